import { describe, expect, it } from '@jest/globals';
import { ActiveDirectoryDialect, OpenLdapDialect, UAC, guidToBytes, guidToString, type EntryView } from '../src/ldap/vendors.js';

const entry = (attrs: Record<string, string[]>, buffers: Record<string, Buffer> = {}): EntryView => ({
  dn: 'cn=x,dc=y',
  get: (n) => attrs[n] ?? [],
  getBuffer: (n) => buffers[n],
});

describe('Active Directory dialect', () => {
  it('reads objectGUID in the usual string form and filters by its escaped bytes', () => {
    const bytes = Buffer.from('78563412bc9af0de0123456789abcdef', 'hex');
    const guid = guidToString(bytes);
    expect(guid).toBe('12345678-9abc-def0-0123-456789abcdef');
    expect(guidToBytes(guid).equals(bytes)).toBe(true);
    expect(ActiveDirectoryDialect.refOf(entry({}, { objectGUID: bytes }))).toBe(guid);
    expect(ActiveDirectoryDialect.refFilter(guid)).toBe('(objectGUID=\\78\\56\\34\\12\\bc\\9a\\f0\\de\\01\\23\\45\\67\\89\\ab\\cd\\ef)');
  });

  it('disables and enables with the ACCOUNTDISABLE bit of userAccountControl, keeping the other flags', () => {
    const enabled = entry({ userAccountControl: [String(UAC.NORMAL_ACCOUNT | 0x10000)] });
    expect(ActiveDirectoryDialect.isEnabled(enabled, { method: 'ppolicy' })).toBe(true);
    expect(ActiveDirectoryDialect.disableChanges(enabled, { method: 'ppolicy' })).toEqual([{ operation: 'replace', type: 'userAccountControl', values: [String(0x10202)] }]);
    const disabled = entry({ userAccountControl: ['66050'] });
    expect(ActiveDirectoryDialect.isEnabled(disabled, { method: 'ppolicy' })).toBe(false);
    expect(ActiveDirectoryDialect.enableChanges(disabled, { method: 'ppolicy' })).toEqual([{ operation: 'replace', type: 'userAccountControl', values: ['66048'] }]);
  });

  it('creates accounts with sAMAccountName, a UPN and a disabled-until-enabled userAccountControl', () => {
    expect(ActiveDirectoryDialect.creationAttributes('ada', false, { upnSuffix: 'corp.example' })).toEqual({ sAMAccountName: ['ada'], userPrincipalName: ['ada@corp.example'], userAccountControl: ['514'] });
    expect(ActiveDirectoryDialect.creationAttributes('ada', true, {}).userAccountControl).toEqual(['512']);
  });

  it('renames sAMAccountName and the UPN it made; refuses names AD refuses; selects persons only (not computers)', () => {
    expect(ActiveDirectoryDialect.nameChanges('bob', { upnSuffix: 'corp.example' })).toEqual([
      { operation: 'replace', type: 'sAMAccountName', values: ['bob'] },
      { operation: 'replace', type: 'userPrincipalName', values: ['bob@corp.example'] },
    ]);
    expect(ActiveDirectoryDialect.nameChanges('bob', {})).toEqual([{ operation: 'replace', type: 'sAMAccountName', values: ['bob'] }]);
    for (const bad of ['a,b', 'a+b', 'a"b', 'a\\b', 'a[b]', 'a:b', 'a;b', 'a|b', 'a=b', 'a*b', 'a?b', 'a<b>', 'a/b', 'tab\tname', 'x'.repeat(21), 'dot.']) {
      expect(() => ActiveDirectoryDialect.checkAccountName(bad)).toThrow(/sAMAccountName/);
    }
    for (const good of ['ada', 'zoë.lee', ' lead', 'x'.repeat(20), 'o\'brien', 'a#b(c)&d']) expect(() => ActiveDirectoryDialect.checkAccountName(good)).not.toThrow();
    expect(ActiveDirectoryDialect.userFilter(['top', 'person', 'organizationalPerson', 'user'])).toBe('(&(objectCategory=person)(objectClass=user))');
    expect(ActiveDirectoryDialect.maintainsMemberReferences).toBe(true);
    expect(ActiveDirectoryDialect.enableAfterPassword).toBe(true);
  });

  it('sets unicodePwd (quoted UTF-16LE) only over an encrypted connection', () => {
    expect(() => ActiveDirectoryDialect.passwordChange('s3cret', false)).toThrow(/only over LDAPS or StartTLS/);
    const op = ActiveDirectoryDialect.passwordChange('s3cret', true);
    expect(op.type).toBe('unicodePwd');
    expect((op.values[0] as Buffer).equals(Buffer.from('"s3cret"', 'utf16le'))).toBe(true);
  });
});

describe('OpenLDAP dialect', () => {
  it('uses entryUUID and the configured disable method', () => {
    expect(OpenLdapDialect.refFilter('0d2c1b9e-0000-4000-8000-000000000001')).toBe('(entryUUID=0d2c1b9e-0000-4000-8000-000000000001)');
    expect(() => OpenLdapDialect.refFilter('x)(uid=*')).toThrow(/not an entryUUID/);
    const method = { method: 'attribute' as const, attribute: 'employeeType', disabledValue: 'disabled', enabledValue: null };
    expect(OpenLdapDialect.isEnabled(entry({ employeeType: ['disabled'] }), method)).toBe(false);
    expect(OpenLdapDialect.enableChanges(entry({}), method)).toEqual([{ operation: 'delete', type: 'employeeType', values: [] }]);
    expect(OpenLdapDialect.disableChanges(entry({}), { method: 'ppolicy' })).toEqual([{ operation: 'replace', type: 'pwdAccountLockedTime', values: ['000001010000Z'] }]);
  });
});
