import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalJson } from '../src/index.js';

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
});
