import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalContent, canonicalJson, isIndexKey, memberOrder, sortedJson, type RecordContent } from '../src/index.js';

describe('canonical JSON', () => {
  it('sorts members, drops undefined, and has no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: null, c: 'x', u: undefined }], é: true })).toBe('{"a":[1,{"c":"x","d":null}],"b":1,"é":true}');
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/no representation/);
  });

  it('property: parses back to the same value, and equal values (any key order) give the same text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const normalized = JSON.parse(JSON.stringify(v)) as unknown;
        const text = canonicalJson(normalized);
        const shuffled = JSON.parse(JSON.stringify(normalized, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).reverse()) : x))) as unknown;
        return JSON.stringify(JSON.parse(text)) === JSON.stringify(JSON.parse(canonicalJson(shuffled))) && canonicalJson(shuffled) === text;
      }),
      { numRuns: 300 },
    );
  });

  it('property: canonicalContent with precomputed member texts equals canonicalJson of the content', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.dictionary(fc.string(), fc.string()), fc.option(fc.base64String(), { nil: undefined }), (v, headers, pii) => {
        const json = JSON.parse(JSON.stringify(v ?? null)) as unknown;
        const content: RecordContent = {
          topic: 't', partition: 1, offset: '9', key: 'k', timestamp: 1, recordedAt: 2, headers, payload: null, keyId: null, json, schema: null, decodeError: null,
          ...(pii === undefined ? {} : { pii }),
        };
        const expected = canonicalJson(content);
        return canonicalContent(content, { json: canonicalJson(json), headers: canonicalJson(headers) }) === expected && canonicalContent(content) === expected;
      }),
      { numRuns: 200 },
    );
  });

  it('property: member order is Object.keys(o).sort(), also for name sequences seen before (shared first names, permutations, prefixes)', () => {
    const names = fc.constantFrom('a', 'b', 'B', 'é', 'z', '10', '9', '01', '__proto__', 'aa', '', 'ce_id', 'ce_type');
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(names, { maxLength: 7 }), { maxLength: 30 }), (sequences) => {
        for (const keys of sequences) {
          const o: Record<string, unknown> = {};
          for (const k of keys) Object.defineProperty(o, k, { value: 1, enumerable: true, writable: true, configurable: true });
          const m = memberOrder(o);
          const expected = Object.keys(o).sort();
          if (m.sorted.length !== expected.length || m.sorted.some((k, i) => k !== expected[i])) return false;
          if (m.lower.some((k, i) => k !== expected[i]!.toLowerCase())) return false;
          if (m.indexKeys !== expected.some(isIndexKey)) return false;
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('property: sortedJson gives the canonical text, array-index member names included', () => {
    expect(sortedJson({ b: 1, 10: 'x', 9: 'y', a: { '01': 1, 2: 2 } }).text).toBe(canonicalJson({ b: 1, 10: 'x', 9: 'y', a: { '01': 1, 2: 2 } }));
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const normalized = JSON.parse(JSON.stringify(v)) as unknown;
        const s = sortedJson(normalized);
        return s.text === canonicalJson(normalized) && canonicalJson(s.value) === s.text;
      }),
      { numRuns: 300 },
    );
  });
});
