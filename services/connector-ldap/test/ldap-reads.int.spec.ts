import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { converge, type DesiredAccount, type TargetAccount, type TargetRuntime } from '@provisio/connector-kit';
import type { RunningSlapd } from '@provisio/devstack';
import type { Client } from 'ldapts';
import { LdapDirectoryConnector } from '../src/ldap/ldap-directory.connector.js';
import { GROUPS, NOBODY, PEOPLE, desiredAccount as desired, ldapRuntime, ldapTarget, startDirectory, stopDirectory, watchClientCalls } from './ldap-test-kit.js';

/**
 * How often converge reads an account, counted at the LDAP client behind the connector's pool
 * against a real slapd: the batch prefetch (readAccounts) is the only read of an existing
 * account — no search again one by one, none after a modify, none before enable/disable — and a
 * new account is read once after it was added (the directory makes its entryUUID). The results
 * are checked against the directory itself.
 */
describe('connector-ldap reads each account once per command', () => {
  let slapd: RunningSlapd;
  let admin: Client;
  let connector: LdapDirectoryConnector;
  let runtime: TargetRuntime;
  const searches: { base: string; scope: string; filter: string }[] = [];

  /** Searches of account entries (under the people base); group look-ups are counted apart. */
  const accountSearches = () => searches.filter((s) => s.base.toLowerCase().endsWith(PEOPLE.toLowerCase()));
  const groupSearches = () => searches.filter((s) => s.base.toLowerCase().endsWith(GROUPS.toLowerCase()));
  const entry = async (dn: string) => (await admin.search(dn, { scope: 'base', attributes: ['*', 'pwdAccountLockedTime', 'entryUUID'] })).searchEntries[0];
  /** One command the way the kit runs it: the batch prefetch, then converge with the prefetched account. */
  const command = async (d: DesiredAccount, ref: string | null) => {
    searches.length = 0;
    const prefetched = await connector.readAccounts([{ personId: d.personId, accountName: d.accountName, accountRef: ref, desired: d }]);
    const outcome = await converge(runtime, d, ref, prefetched.get(d.personId));
    return { outcome, accounts: accountSearches().length, groups: groupSearches().length };
  };

  beforeAll(async () => {
    ({ slapd, admin } = await startDirectory({ ppolicy: true }));
    await admin.add(NOBODY, { objectClass: ['top', 'organizationalRole'], cn: 'nobody' });
    await admin.add(`cn=devs,${GROUPS}`, { objectClass: ['top', 'groupOfNames'], cn: 'devs', member: NOBODY });
    await admin.add(`cn=unix,${GROUPS}`, { objectClass: ['top', 'posixGroup'], cn: 'unix', gidNumber: '5000' });
    const cfg = ldapTarget(slapd, { groupEntries: { base: GROUPS, placeholderMember: NOBODY }, disable: { method: 'ppolicy' } });
    connector = new LdapDirectoryConnector(cfg);
    // Count every search the connector sends, whatever it is for.
    watchClientCalls(connector, 'search', (base, o = {}) => searches.push({ base: base as string, scope: String(o.scope ?? 'sub'), filter: String(o.filter ?? '') }));
    runtime = ldapRuntime(cfg, connector);
  }, 60_000);

  afterAll(async () => {
    await runtime?.close();
    await stopDirectory(slapd, admin);
  });

  it('create: the prefetch is the only read; the new entry (its entryUUID) comes back in the add response (Post-Read control)', async () => {
    const r = await command(desired('p-1', { groups: ['devs'] }), null);
    expect(r.outcome.status).toBe('APPLIED');
    expect(r.accounts).toBe(1);
    const e = await entry(`uid=user1,${PEOPLE}`);
    expect(r.outcome.accountRef).toBe(e!['entryUUID']);
    expect((await entry(`cn=devs,${GROUPS}`))!['member']).toContain(`uid=user1,${PEOPLE}`);
  });

  it('no change: the prefetch is the only read (memberships included), no write', async () => {
    const ref = String((await entry(`uid=user1,${PEOPLE}`))!['entryUUID']);
    const r = await command(desired('p-1', { groups: ['devs'] }), ref);
    expect(r.outcome).toMatchObject({ status: 'NO_CHANGE', operations: [], accountRef: ref });
    expect(r.accounts).toBe(1);
    expect(r.groups).toBe(1);
  });

  it('update + rename + membership change + disable: one read, none after the writes; the directory has the result', async () => {
    const ref = String((await entry(`uid=user1,${PEOPLE}`))!['entryUUID']);
    const d = desired('p-1', { version: 2, accountName: 'user1b', state: 'DISABLED', attributes: { mail: 'new@example.org', title: 'Engineer' }, groups: ['unix'] });
    const r = await command(d, ref);
    expect(r.outcome.status).toBe('APPLIED');
    expect(r.outcome.operations.map((o) => o.type).sort()).toEqual(['ADD_MEMBERSHIP', 'DISABLE', 'REMOVE_MEMBERSHIP', 'RENAME', 'UPDATE']);
    expect(r.outcome.accountRef).toBe(ref);
    expect(r.accounts).toBe(1);
    const e = await entry(`uid=user1b,${PEOPLE}`);
    expect(e).toMatchObject({ uid: 'user1b', mail: 'new@example.org', title: 'Engineer', entryUUID: ref });
    expect([e!['pwdAccountLockedTime'] ?? []].flat()).toHaveLength(1);
    expect((await entry(`cn=unix,${GROUPS}`))!['memberUid']).toBe('user1b');
    expect((await entry(`cn=devs,${GROUPS}`))!['member']).toBe(NOBODY);

    // The state computed from the writes is what the directory holds: converging the same state again finds nothing to do.
    const again = await command(d, ref);
    expect(again.outcome.status).toBe('NO_CHANGE');
    expect(again.accounts).toBe(1);
  });

  it('enable and remove an attribute: one read', async () => {
    const ref = String((await entry(`uid=user1b,${PEOPLE}`))!['entryUUID']);
    const d = desired('p-1', { version: 3, accountName: 'user1b', attributes: { mail: 'new@example.org', title: null }, groups: ['unix'] });
    const r = await command(d, ref);
    expect(r.outcome.operations.map((o) => o.type).sort()).toEqual(['ENABLE', 'UPDATE']);
    expect(r.accounts).toBe(1);
    const e = await entry(`uid=user1b,${PEOPLE}`);
    expect([e!['pwdAccountLockedTime'] ?? []].flat()).toEqual([]);
    expect([e!['title'] ?? []].flat()).toEqual([]);
    expect((await command(d, ref)).outcome.status).toBe('NO_CHANGE');
  });

  it('a batch of accounts is read in one search, found ones complete', async () => {
    for (const p of ['p-2', 'p-3', 'p-4']) await command(desired(p, { groups: ['devs'] }), null);
    searches.length = 0;
    const ds = ['p-2', 'p-3', 'p-4', 'p-5'].map((p) => desired(p, { groups: ['devs'] }));
    const found = await connector.readAccounts(ds.map((d) => ({ personId: d.personId, accountName: d.accountName, accountRef: null, desired: d })));
    expect(accountSearches()).toHaveLength(1);
    expect(found.get('p-5')).toBeNull();
    for (const p of ['p-2', 'p-3', 'p-4']) {
      const a = found.get(p) as TargetAccount;
      expect(a).toMatchObject({ owner: p, name: p.replace('p-', 'user'), enabled: true, groups: ['devs'], location: `uid=${p.replace('p-', 'user')},${PEOPLE}` });
    }
  });
});
