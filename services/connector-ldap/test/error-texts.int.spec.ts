import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, converge, type DesiredAccount, type TargetRuntime } from '@provisio/connector-kit';
import type { RunningSlapd } from '@provisio/devstack';
import { expectNamesNone as namesNone, rejectionOf } from '@provisio/testing/expect';
import type { Client } from 'ldapts';
import { LdapDirectoryConnector } from '../src/ldap/ldap-directory.connector.js';
import { GROUPS, PEOPLE, desiredAccount, ldapRuntime, ldapTarget, startDirectory, stopDirectory } from './ldap-test-kit.js';

/**
 * Error texts of connector-ldap through the kit's converge on a real slapd: results, dead letters
 * and logs may name the target, bases, attribute names, groups and rules, never the person's
 * account name, DN, cn or email — also where the connector's look-up filter or the directory's own
 * message would.
 */
describe('connector-ldap error texts name no account', () => {
  let slapd: RunningSlapd;
  let admin: Client;
  const connectors: LdapDirectoryConnector[] = [];

  const runtimeFor = (extra: Record<string, unknown> = {}) => {
    const cfg = ldapTarget(slapd, { groupEntries: { base: GROUPS }, disable: { method: 'attribute', attribute: 'employeeType', disabledValue: 'disabled' }, ...extra });
    const connector = new LdapDirectoryConnector(cfg);
    connectors.push(connector);
    return ldapRuntime(cfg, connector);
  };
  const desired = (personId: string, accountName: string, over: Partial<DesiredAccount> = {}) => desiredAccount(personId, { accountName, attributes: { mail: `${accountName}@example.org` }, ...over });
  const failure = (d: DesiredAccount, runtime: TargetRuntime) => rejectionOf(converge(runtime, d, null), ConnectorError);
  const person = (dn: string, uid: string, cn = uid) => admin.add(dn, { objectClass: ['top', 'inetOrgPerson'], uid, cn, sn: cn });

  beforeAll(async () => {
    ({ slapd, admin } = await startDirectory());
    await admin.add(`cn=staff,${GROUPS}`, { objectClass: ['top', 'groupOfNames'], cn: 'staff', member: slapd.rootDn });
  }, 60_000);

  afterAll(async () => {
    for (const c of connectors) await c.close();
    await stopDirectory(slapd, admin);
  }, 30_000);

  it("a joiner whose DN collides with an entry the read cannot find (entryAlreadyExists): permanent, without the name, cn, DN or email", async () => {
    const runtime = runtimeFor({ dnTemplate: 'cn={attr.cn}' });
    // Somebody else's entry with the DN the joiner's cn gives; its uid differs, so no look-up finds it.
    await person(`cn=Ada Lovelace,${PEOPLE}`, 'someone.else', 'Ada Lovelace');
    const e = await failure(desired('p-ada', 'ada.lovelace', { attributes: { cn: 'Ada Lovelace', mail: 'ada.lovelace@example.org' } }), runtime);
    expect(e.code).toBe('TARGET_ALREADY_EXISTS');
    expect(e.message).toMatch(/^creating the account of person p-ada on target dir failed/);
    namesNone(e.message, 'ada.lovelace', 'Ada Lovelace', 'Lovelace', 'ada.lovelace@example.org');
  });

  it('an existing entry with the name that Provisio does not manage: ACCOUNT_NOT_MANAGED without the name', async () => {
    const runtime = runtimeFor();
    await person(`uid=grace.hopper,${PEOPLE}`, 'grace.hopper', 'Grace Hopper');
    const e = await failure(desired('p-grace', 'grace.hopper'), runtime);
    expect(e.code).toBe('ACCOUNT_NOT_MANAGED');
    namesNone(e.message, 'grace.hopper', 'Grace Hopper');
  });

  it('two entries with the name: the error names the look-up (attribute and base), not the filter value', async () => {
    const runtime = runtimeFor();
    await admin.add(`ou=contractors,${PEOPLE}`, { objectClass: ['top', 'organizationalUnit'], ou: 'contractors' });
    await person(`uid=alan.turing,${PEOPLE}`, 'alan.turing');
    await person(`uid=alan.turing,ou=contractors,${PEOPLE}`, 'alan.turing');
    const e = await failure(desired('p-alan', 'alan.turing'), runtime);
    expect(e.code).toBe('TARGET_REJECTED');
    expect(e.message).toBe(`more than one entry matches the look-up by account name (uid) under ${PEOPLE}`);
  });

  it('a missing group after the create: the group is named, the account is not', async () => {
    const runtime = runtimeFor();
    const e = await failure(desired('p-joan', 'joan.clarke', { groups: ['no-such-group'] }), runtime);
    expect(e.code).toBe('GROUP_NOT_FOUND');
    expect(e.message).toContain('no-such-group');
    namesNone(e.message, 'joan.clarke');
  });
});
