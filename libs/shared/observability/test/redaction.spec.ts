import { describe, expect, it } from '@jest/globals';
import { REDACTED, redactPii, scrubString } from '../src/index.js';

describe('scrubString', () => {
  it('masks email addresses, also URL-encoded (once or twice) and JSON-escaped', () => {
    expect(scrubString('user ada.lovelace@example.org exists')).toBe('user [email] exists');
    expect(scrubString('GET /Users?filter=userName%20eq%20%22ada.lovelace%40example.org%22 answered 500')).not.toMatch(/lovelace|example\.org/);
    expect(scrubString('GET /Users/ada%2Blove%40Example.ORG')).toBe('GET /Users/[email]');
    expect(scrubString('path=/Users?filter=ada%2540example.org')).not.toMatch(/ada|example/);
    expect(scrubString('{"userName":"ada\\u0040example.org"}')).not.toMatch(/ada|example/);
  });

  it('masks personal values in LDAP DNs and filters, escaped characters included', () => {
    expect(scrubString('modify uid=ada,ou=people,dc=corp failed')).toBe(`modify uid=${REDACTED},ou=people,dc=corp failed`);
    expect(scrubString('no such object: CN=Lovelace\\, Ada,OU=Staff,DC=corp')).toBe(`no such object: CN=${REDACTED},OU=Staff,DC=corp`);
    expect(scrubString('search (&(objectClass=person)(cn=Ada Lovelace)(sAMAccountName=alovelace))')).toBe(`search (&(objectClass=person)(cn=${REDACTED})(sAMAccountName=${REDACTED}))`);
    expect(scrubString('uid=x+mail=y,dc=corp')).toBe(`uid=${REDACTED}+mail=${REDACTED},dc=corp`);
    // Structure and non-personal parts stay readable.
    expect(scrubString('ou=people,dc=example,dc=org: code 68')).toBe('ou=people,dc=example,dc=org: code 68');
  });

  it('applies to error messages in logged objects', () => {
    const e = new Error('GET /Users?filter=userName%20eq%20%22bob%40corp.example%22: 503');
    expect(JSON.stringify(redactPii({ err: e }))).not.toMatch(/bob|corp\.example/);
  });
});
