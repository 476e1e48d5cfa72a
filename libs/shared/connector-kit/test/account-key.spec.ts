import { describe, expect, it } from '@jest/globals';
import { accountKey } from '../src/reconciler.js';

describe('accountKey (Kafka key of a drift finding without a person)', () => {
  it('uses the target-native ref when there is one', () => {
    expect(accountKey('corp-ldap', '5f1c0e6a-aaaa-bbbb-cccc-1234567890ab', 'uid=ada,ou=people,dc=corp')).toBe('account:corp-ldap:5f1c0e6a-aaaa-bbbb-cccc-1234567890ab');
  });

  it('never puts the account name (personal data, stored in clear by consumers) into the key: a stable digest instead', () => {
    const key = accountKey('corp-ldap', null, 'uid=ada.lovelace,ou=people,dc=corp');
    expect(key).toMatch(/^account:corp-ldap:name-sha256:[0-9a-f]{32}$/);
    expect(key).not.toMatch(/ada|lovelace/);
    expect(accountKey('corp-ldap', null, 'uid=ada.lovelace,ou=people,dc=corp')).toBe(key);
    expect(accountKey('corp-ldap', null, 'uid=grace,ou=people,dc=corp')).not.toBe(key);
  });
});
