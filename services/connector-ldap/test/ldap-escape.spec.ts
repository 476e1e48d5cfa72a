import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EqualityFilter, FilterParser } from 'ldapts';
import { eq, escapeDnValue, escapeFilterValue, normalizeDn, parseDn, sameDn, unescapeDnValue } from '../src/ldap/ldap-escape.js';

// Names people really have plus everything RFC 4514/4515 treats specially.
const hostileChar = fc.oneof(
  fc.constantFrom(',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ', '*', '(', ')', '\u0000', '/', "'", 'é', 'ß', 'Ø', '李', '😀', '\u200b', '\t'),
  fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }),
);
const hostileName = fc.array(hostileChar, { minLength: 1, maxLength: 24 }).map((a) => a.join(''));

describe('DN escaping (RFC 4514)', () => {
  it('escapes the specials of real hostile names', () => {
    expect(escapeDnValue('Lovelace, Ada')).toBe('Lovelace\\2c Ada');
    expect(escapeDnValue(' #leading and trailing ')).toBe('\\20#leading and trailing\\20');
    expect(escapeDnValue('#hash')).toBe('\\23hash');
    expect(escapeDnValue('a+b="c"<d>;e\\f')).toBe('a\\2bb\\3d\\22c\\22\\3cd\\3e\\3be\\5cf');
    expect(escapeDnValue('Zoë 李')).toBe('Zoë 李');
  });

  it('round-trips any value through escape → unescape', () => {
    fc.assert(fc.property(hostileName, (name) => expect(unescapeDnValue(escapeDnValue(name))).toBe(name)), { numRuns: 2000 });
  });

  it('keeps the DN structure: the value stays one RDN value, whatever it contains', () => {
    fc.assert(
      fc.property(hostileName, hostileName, (a, b) => {
        const dn = `uid=${escapeDnValue(a)},ou=${escapeDnValue(b)},dc=example,dc=org`;
        const rdns = parseDn(dn);
        expect(rdns).toHaveLength(4);
        expect(rdns[0]).toEqual([{ type: 'uid', value: a }]);
        expect(rdns[1]).toEqual([{ type: 'ou', value: b }]);
        // Every comma of the string is an RDN separator: naive splitters (ldapts modifyDN) see the same structure.
        expect(dn.split(',')).toHaveLength(4);
        expect(/\\[^0-9a-f]/i.test(escapeDnValue(a))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('parses backslash-character escapes and multi-valued RDNs written by others', () => {
    expect(parseDn('cn=Lovelace\\, Ada+uid=ada,ou=people,dc=x')).toEqual([
      [{ type: 'cn', value: 'Lovelace, Ada' }, { type: 'uid', value: 'ada' }],
      [{ type: 'ou', value: 'people' }],
      [{ type: 'dc', value: 'x' }],
    ]);
    expect(unescapeDnValue('caf\\c3\\a9')).toBe('café');
    expect(() => unescapeDnValue('bad\\')).toThrow(/lone backslash/);
  });

  it('compares DNs regardless of case, spacing and escaping style', () => {
    expect(sameDn('UID=Ada\\, L,OU=People,DC=x', 'uid=ada\\2c l,ou=people,dc=x')).toBe(true);
    expect(sameDn('uid=ada,ou=a,dc=x', 'uid=ada,ou=b,dc=x')).toBe(false);
    expect(normalizeDn('cn=b+uid=a,dc=x')).toBe(normalizeDn('uid=a+cn=b,dc=x'));
  });
});

describe('filter escaping (RFC 4515)', () => {
  it('escapes *, (, ), \\ and NUL as hex pairs', () => {
    expect(escapeFilterValue('a*(b)\\c\u0000')).toBe('a\\2a\\28b\\29\\5cc\\00');
    expect(eq('uid', '*)(uid=*')).toBe('(uid=\\2a\\29\\28uid=\\2a)');
  });

  it('yields exactly one equality filter with the original value, whatever the input (checked with ldapts\'s own parser)', () => {
    fc.assert(
      fc.property(hostileName, (name) => {
        const parsed = FilterParser.parseString(eq('cn', name));
        expect(parsed).toBeInstanceOf(EqualityFilter);
        const value = (parsed as EqualityFilter).value;
        expect(Buffer.isBuffer(value) ? value.toString('utf8') : value).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses attribute names that could inject filter syntax', () => {
    expect(() => eq('uid)(objectClass=*', 'x')).toThrow(/invalid attribute name/);
  });
});
