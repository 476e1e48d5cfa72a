import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalJson } from '@provisio/audit-domain';
import { BinaryCopyWriter } from '../src/store/pg-copy.js';
import { decodeRecord, isPlainJson, isPlainStorableJson } from '../src/store/record-decoder.js';
import type { ConsumedMessage } from '@provisio/messaging';
import { joinerRecords } from './records.js';

type Value = { text?: string | null; jsonb?: string | null; int8?: string | number | null };

/** The encoding before the one-pass writers: byte length first, then the text; BigInt for int8. */
function reference(values: Value[]): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const v of values) {
    const row = Buffer.alloc(2);
    row.writeInt16BE(1);
    parts.push(row);
    const len = Buffer.alloc(4);
    if (v.text !== undefined) {
      if (v.text === null) parts.push(Buffer.from([255, 255, 255, 255]));
      else {
        const b = Buffer.from(v.text, 'utf8');
        len.writeInt32BE(b.length);
        parts.push(len, b);
      }
    } else if (v.jsonb !== undefined) {
      if (v.jsonb === null) parts.push(Buffer.from([255, 255, 255, 255]));
      else {
        const b = Buffer.from(v.jsonb, 'utf8');
        len.writeInt32BE(b.length + 1);
        parts.push(len, Buffer.from([1]), b);
      }
    } else if (v.int8 !== undefined) {
      if (v.int8 === null) parts.push(Buffer.from([255, 255, 255, 255]));
      else {
        const b = Buffer.alloc(12);
        b.writeInt32BE(8);
        b.writeBigInt64BE(BigInt(v.int8), 4);
        parts.push(b);
      }
    }
  }
  parts.push(Buffer.from([255, 255]));
  return Buffer.concat(parts);
}

describe('binary COPY writer', () => {
  it('property: text, jsonb and int8 encode as before (one pass, no BigInt for safe integers)', () => {
    const int8 = fc.oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => b.toString()),
      fc.maxSafeInteger(),
      fc.integer({ min: 0, max: 2 ** 40 }).map(String),
      fc.constantFrom('0', '-0', '9007199254740991', '9007199254740993', '-9007199254740993', '0x10', ' 12'),
    );
    const value: fc.Arbitrary<Value> = fc.oneof<fc.Arbitrary<Value>[]>(
      fc.record({ text: fc.option(fc.string({ unit: 'grapheme' }), { nil: null }) }),
      fc.record({ text: fc.option(fc.string({ unit: 'binary' }), { nil: null }) }),
      fc.record({ jsonb: fc.option(fc.json(), { nil: null }) }),
      fc.record({ int8: fc.option(int8, { nil: null }) }),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 20 }), (values) => {
        const w = new BinaryCopyWriter(64);
        for (const v of values) {
          w.row(1);
          if (v.text !== undefined) w.text(v.text);
          else if (v.jsonb !== undefined) w.jsonb(v.jsonb);
          else w.int8(v.int8 ?? null);
        }
        return w.finish().equals(reference(values));
      }),
      { numRuns: 500 },
    );
  });

  it('reuses a large enough buffer of an earlier writer', () => {
    const first = new BinaryCopyWriter(1024);
    first.row(1).text('a'.repeat(5000));
    const data = Buffer.from(first.finish());
    const second = new BinaryCopyWriter(1024, first.buffer);
    expect(second.buffer).toBe(first.buffer);
    second.row(1).text('a'.repeat(5000));
    expect(second.finish().equals(data)).toBe(true);
  });
});

describe('record decoding', () => {
  it('isPlainJson: only values a JSON round trip gives back unchanged', () => {
    expect(isPlainJson({ a: [1, 'x', null, true, { b: -2.5 }] })).toBe(true);
    expect(isPlainJson({ a: undefined })).toBe(false);
    expect(isPlainJson([1, , 3])).toBe(false); // eslint-disable-line no-sparse-arrays
    expect(isPlainJson({ n: Number.NaN })).toBe(false);
    expect(isPlainJson({ d: new Date(0) })).toBe(false);
    expect(isPlainJson({ b: Buffer.from('x') })).toBe(false);
    expect(isPlainJson({ i: 1n })).toBe(false);
    fc.assert(fc.property(fc.jsonValue(), (v) => isPlainJson(v)));
  });

  it('property: isPlainStorableJson decides as serializing the whole value and searching its text did', () => {
    // The decision before: plain JSON, and nothing jsonb refuses in the serialized text.
    const unstorable = /\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;
    const before = (v: unknown) => isPlainJson(v) && !unstorable.test(JSON.stringify(v));
    const tricky = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom('a', '\\', 'u', '0', 'd', 'D', '8', 'c', '\u0000', '\ud800', '\udc00', '\ud83d\ude00', '"') }),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, tricky, fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(tricky, tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(fc.property(value, (v) => isPlainStorableJson(v) === before(v)), { numRuns: 2000 });
    for (const s of ['\\u0000', 'a\u0000', '\ud800', '\udc00x', '\\uD83D', '\ud83d\ude00', 'plain']) {
      expect(isPlainStorableJson({ [s]: 1 })).toBe(before({ [s]: 1 }));
      expect(isPlainStorableJson([s])).toBe(before([s]));
    }
    expect(isPlainStorableJson({ d: new Date(0) })).toBe(false);
  });

  it('the decoded value is exactly what the JSON round trip gives (canonical text and value)', () => {
    const d0 = joinerRecords('person-1');
    let offset = 0;
    const messages: ConsumedMessage<Buffer | null>[] = [d0.lifecycle, d0.commandMessage, d0.resultMessage].map((m) => ({ topic: 't', partition: 0, offset: String(offset++), key: m.key, headers: m.headers, envelope: {}, value: m.value, timestamp: 1 }));
    for (const m of messages) {
      const d = decodeRecord(m);
      expect(d.schema).not.toBeNull();
      const roundTrip = JSON.parse(JSON.stringify(d.json)) as unknown;
      expect(d.json).toEqual(roundTrip);
      expect(canonicalJson(d.json)).toBe(canonicalJson(roundTrip));
    }
  });
});
