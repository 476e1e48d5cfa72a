import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import SCIMMY from 'scimmy';
import { equalityLookup, plainFilterValue, scimString } from '../src/scim/scim-filter.js';

/** A real SCIM filter parser (SCIMMY's, the one the test server runs): what a service makes of our filter. */
const parse = (filter: string) => JSON.parse(JSON.stringify(new SCIMMY.Types.Filter(filter))) as Record<string, unknown[]>[];

const HOSTILE = ['\ud800x', 'a"b', 'a\\b', '"', '\\', '\\"', 'x" or userName pr or userName eq "y', 'o\'neil', 'tab\there', 'nl\nx', 'a\u2028b', ') or (', 'ü"ß\\', '" and active eq false'];
const names = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', 'a', 'b', ' ', '\u0000', '\u2028', 'ü') }), fc.constantFrom(...HOSTILE));

describe('SCIM filter look-ups (RFC 7644 §3.4.2.2)', () => {
  it('escapes string literals as JSON strings: the literal reads back as the value', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (v) => {
        const literal = scimString(v);
        expect(JSON.parse(literal)).toBe(v);
        // Never ends early: the only unescaped quotes are the two around it.
        expect(literal.slice(1, -1)).not.toMatch(/(^|[^\\])(\\\\)*"/);
      }),
    );
  });

  it('every look-up is one comparison on the attribute, whatever the value: nothing can be injected', () => {
    fc.assert(
      fc.property(names, fc.constantFrom('userName', 'externalId', 'displayName'), (v, attr) => {
        const lookup = equalityLookup(attr, v, attr === 'externalId');
        const parsed = parse(lookup.filter);
        expect(parsed).toHaveLength(1);
        expect(Object.keys(parsed[0]!)).toEqual([attr]);
        const [op, operand] = parsed[0]![attr]!;
        if (lookup.exact) {
          expect(op).toBe('eq');
          // The service reads exactly the value: no escapes it could get wrong.
          expect(operand).toBe(v);
        } else {
          expect(['co', 'pr']).toContain(op);
          if (op === 'co') {
            expect(typeof operand).toBe('string');
            expect(v).toContain(operand);
            expect(operand).not.toMatch(/["\\]/);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('values with quotes, backslashes or control characters never go into a literal whole; plain ones use eq', () => {
    expect(equalityLookup('userName', 'ada@example.org', false)).toMatchObject({ filter: 'userName eq "ada@example.org"', exact: true });
    expect(equalityLookup('userName', 'x" or userName pr or userName eq "y', false)).toMatchObject({ filter: 'userName co " or userName pr or userName eq "', exact: false });
    expect(equalityLookup('userName', 'o"brien\\sean', false)).toMatchObject({ filter: 'userName co "brien"', exact: false });
    expect(equalityLookup('userName', '"\\"', false)).toMatchObject({ filter: 'userName pr', exact: false });
    expect(plainFilterValue('ü ß.-_@+')).toBe(true);
    for (const h of ['a"b', 'a\\b', 'a\u0001b', 'a\u2028b']) expect(plainFilterValue(h)).toBe(false);
  });

  it('keeps only exact matches of what the service answered (case-insensitive for userName, exact for externalId)', () => {
    fc.assert(
      fc.property(names, names, (v, other) => {
        const byName = equalityLookup('userName', v, false);
        expect(byName.matches({ userName: v })).toBe(true);
        expect(byName.matches({ userName: v.replace(/[a-z]/g, (c) => c.toUpperCase()) })).toBe(true);
        expect(byName.matches({ userName: other })).toBe(other.toLowerCase() === v.toLowerCase());
        const byOwner = equalityLookup('externalId', v, true);
        expect(byOwner.matches({ externalId: v })).toBe(true);
        expect(byOwner.matches({ externalId: other })).toBe(other === v);
        expect(byOwner.matches({})).toBe(false);
      }),
    );
  });
});
