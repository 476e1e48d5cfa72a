import { describe, expect, it } from '@jest/globals';
import { configTestEnv } from '@provisio/testing';
import { loadConnectorLdapConfig } from '../src/config.js';
import { LdapDirectoryConnector } from '../src/ldap/ldap-directory.connector.js';

const env = configTestEnv({ S: 'secret' });
const target = (over: Record<string, unknown>) => ({ id: 'dir', bindDn: 'cn=provisio,dc=corp', bindPassword: { env: 'S' }, usersBase: 'ou=people,dc=corp', ...over });
const load = (targets: unknown[]) => loadConnectorLdapConfig({ ...env, CONNECTOR_TARGETS: JSON.stringify(targets) }).CONNECTOR_TARGETS;

describe('connector-ldap configuration', () => {
  it('refuses ldap:// without StartTLS: the bind password would travel in clear', () => {
    expect(() => load([target({ url: 'ldap://ldap.corp:389' })])).toThrow(/CONNECTOR_TARGETS.*0.*url.*sends the bind password.*unencrypted/s);
  });

  it('accepts ldaps://, StartTLS, and plain ldap:// only when explicitly allowed', () => {
    expect(load([target({ url: 'ldaps://ldap.corp:636' })])[0]).toMatchObject({ startTls: false, allowInsecureLdap: false });
    expect(load([target({ url: 'ldap://ldap.corp:389', startTls: true })])[0]).toMatchObject({ startTls: true });
    expect(load([target({ url: 'ldap://127.0.0.1:3890', allowInsecureLdap: true })])[0]).toMatchObject({ allowInsecureLdap: true });
  });

  it('the connector itself refuses a plaintext target without the flag', () => {
    const [cfg] = load([target({ url: 'ldap://127.0.0.1:3890', allowInsecureLdap: true })]);
    expect(() => new LdapDirectoryConnector({ ...cfg!, allowInsecureLdap: false })).toThrow(/target dir: ldap:\/\/ without startTls/);
  });
});
