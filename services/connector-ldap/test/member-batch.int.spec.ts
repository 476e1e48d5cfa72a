import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, converge, type DesiredAccount, type TargetAccount, type TargetRuntime } from '@provisio/connector-kit';
import type { RunningSlapd } from '@provisio/devstack';
import type { Change, Client } from 'ldapts';
import { LdapDirectoryConnector } from '../src/ldap/ldap-directory.connector.js';
import { GROUPS, NOBODY, PEOPLE, ldapRuntime, ldapTarget, startDirectory, stopDirectory, watchClientCalls } from './ldap-test-kit.js';

/**
 * Membership changes of concurrent commands to one group go together (one modify per group and
 * burst) against a real slapd, and each command still gets its own outcome: a value the batch
 * cannot take (already there, not there, refused by the schema, the last member of a
 * groupOfNames) sends every value of the batch again on its own.
 */
describe('connector-ldap memberships, one modify per group and burst', () => {
  let slapd: RunningSlapd;
  let admin: Client;
  let connector: LdapDirectoryConnector;
  let runtime: TargetRuntime;
  /** Modifies the connector sent: the entry and how many values each change carried. */
  const modifies: { dn: string; values: number }[] = [];

  const entry = async (dn: string) => (await admin.search(dn, { scope: 'base', attributes: ['member', 'memberUid'] })).searchEntries[0]!;
  const values = (v: unknown) => [v ?? []].flat().map(String);
  const modifiesOf = (cn: string) => modifies.filter((m) => m.dn.toLowerCase() === `cn=${cn},${GROUPS}`.toLowerCase());
  const desired = (n: number, groups: string[], version = 1): DesiredAccount => ({
    personId: `p-${n}`,
    target: 'dir',
    version,
    state: 'ACTIVE',
    accountName: `member${n}`,
    attributes: { mail: `m${n}@example.org` },
    groups,
  });

  beforeAll(async () => {
    ({ slapd, admin } = await startDirectory());
    await admin.add(NOBODY, { objectClass: ['top', 'organizationalRole'], cn: 'nobody' });
    await admin.add(`cn=staff,${GROUPS}`, { objectClass: ['top', 'groupOfNames'], cn: 'staff', member: NOBODY });
    await admin.add(`cn=unix,${GROUPS}`, { objectClass: ['top', 'posixGroup'], cn: 'unix', gidNumber: '5000' });
    await admin.add(`cn=small,${GROUPS}`, { objectClass: ['top', 'groupOfNames'], cn: 'small', member: NOBODY });
    const cfg = ldapTarget(slapd, { concurrency: 16, groupEntries: { base: GROUPS, placeholderMember: NOBODY } });
    connector = new LdapDirectoryConnector(cfg);
    // Count every modify the connector sends, and how many values it carries.
    watchClientCalls(connector, 'modify', (dn, changes) => modifies.push({ dn: dn as string, values: (changes as Change[]).reduce((n, ch) => n + ch.modification.values.length, 0) }));
    runtime = ldapRuntime(cfg, connector);
  }, 60_000);

  afterAll(async () => {
    await runtime?.close();
    await stopDirectory(slapd, admin);
  });

  it('32 joiners into the same two groups: every membership is there, with far fewer modifies than memberships', async () => {
    // Through the kit (16 commands at a time): whatever the timing, every membership is there.
    const joiners = Array.from({ length: 32 }, (_, i) => desired(i, ['staff', 'unix']));
    const outcomes = await Promise.all(joiners.map((d) => converge(runtime, d, null)));
    expect(outcomes.every((o) => o.status === 'APPLIED')).toBe(true);
    // The placeholder member goes once real members are there.
    expect(values((await entry(`cn=staff,${GROUPS}`))['member']).sort()).toEqual(joiners.map((d) => `uid=${d.accountName},${PEOPLE}`).sort());
    expect(values((await entry(`cn=unix,${GROUPS}`))['memberUid']).sort()).toEqual(joiners.map((d) => d.accountName).sort());

    // A burst at the same moment.
    const accounts: TargetAccount[] = [];
    for (let i = 100; i < 132; i++) {
      const o = await converge(runtime, desired(i, []), null);
      accounts.push((await connector.readAccount({ personId: `p-${i}`, accountName: `member${i}`, accountRef: o.accountRef, desired: desired(i, []) }))!);
    }
    modifies.length = 0;
    await Promise.all(accounts.flatMap((a) => [connector.addGroupMembership(a, 'staff'), connector.addGroupMembership(a, 'unix')]));
    expect(values((await entry(`cn=staff,${GROUPS}`))['member'])).toEqual(expect.arrayContaining(accounts.map((a) => a.location!)));
    expect(values((await entry(`cn=unix,${GROUPS}`))['memberUid'])).toEqual(expect.arrayContaining(accounts.map((a) => a.name)));
    // One modify each: the 32 adds of a burst arrive in the same turn of the event loop.
    expect(modifiesOf('unix').map((m) => m.values)).toEqual([32]);
    // staff also removes its placeholder after the adds: 32 deletes of one value, one modify (it is gone already: each add is done all the same).
    expect(modifiesOf('staff').map((m) => m.values)).toEqual([32, 1]);
  });

  it('a burst with values the group cannot take: each command gets its own outcome, the others are written', async () => {
    const accounts = new Map<number, TargetAccount>();
    for (const i of [40, 41, 42, 43, 44, 45]) {
      const o = await converge(runtime, desired(i, []), null);
      accounts.set(i, (await connector.readAccount({ personId: `p-${i}`, accountName: `member${i}`, accountRef: o.accountRef, desired: desired(i, []) }))!);
    }
    // member0 is in unix already (an add of a value that is there: attributeOrValueExists, which is "done").
    const already = (await connector.readAccount({ personId: 'p-0', accountName: 'member0', accountRef: null, desired: desired(0, ['staff', 'unix']) }))!;
    // memberUid is IA5String: a name with non-ASCII characters is refused by the schema (invalidAttributeSyntax).
    const refused: TargetAccount = { ...accounts.get(45)!, name: 'mémber45' };
    modifies.length = 0;
    const outcomes = await Promise.allSettled([
      connector.addGroupMembership(accounts.get(40)!, 'unix'),
      connector.addGroupMembership(accounts.get(41)!, 'unix'),
      connector.addGroupMembership(already, 'unix'),
      connector.addGroupMembership(refused, 'unix'),
      connector.addGroupMembership(accounts.get(42)!, 'unix'),
      connector.addGroupMembership(accounts.get(43)!, 'unix'),
      connector.removeGroupMembership(accounts.get(44)!, 'unix'), // not a member: nothing to do
      connector.removeGroupMembership(accounts.get(40)!, 'staff'), // not a member either
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    const err = (outcomes[3] as PromiseRejectedResult).reason as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.retriable).toBe(false);
    const unix = values((await entry(`cn=unix,${GROUPS}`))['memberUid']);
    for (const n of ['member40', 'member41', 'member42', 'member43', 'member0']) expect(unix).toContain(n);
    expect(unix).not.toContain('mémber45');
    expect(unix).not.toContain('member44');
    // The add burst went together once, failed as a whole, and then value by value.
    expect(modifiesOf('unix').some((m) => m.values > 1)).toBe(true);
  });

  it('removing every member of a groupOfNames at once: the batch would empty it, so one by one, and the placeholder takes the last place', async () => {
    const members: TargetAccount[] = [];
    for (const i of [50, 51, 52, 53, 54]) {
      const d = desired(i, ['small']);
      const o = await converge(runtime, d, null);
      members.push((await connector.readAccount({ personId: d.personId, accountName: d.accountName, accountRef: o.accountRef, desired: d }))!);
    }
    // The placeholder went when the first real member came.
    expect(values((await entry(`cn=small,${GROUPS}`))['member']).sort()).toEqual(members.map((m) => m.location!).sort());
    await Promise.all(members.map((m) => connector.removeGroupMembership(m, 'small')));
    expect(values((await entry(`cn=small,${GROUPS}`))['member'])).toEqual([NOBODY]);
  });
  it('removing the last member while another joins: the join stays (the placeholder comes in beside it, never in place of it)', async () => {
    const [y, z] = await Promise.all(
      [60, 61].map(async (i) => {
        const o = await converge(runtime, desired(i, []), null);
        return (await connector.readAccount({ personId: `p-${i}`, accountName: `member${i}`, accountRef: o.accountRef, desired: desired(i, []) }))!;
      }),
    );
    for (let t = 0; t < 12; t++) {
      const g = `cn=race${t},${GROUPS}`;
      await admin.add(g, { objectClass: ['top', 'groupOfNames'], cn: `race${t}`, member: y!.location! });
      const outcomes = await Promise.allSettled([connector.removeGroupMembership(y!, `race${t}`), connector.addGroupMembership(z!, `race${t}`)]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
      const members = values((await entry(g))['member']);
      expect(members).toContain(z!.location!);
      expect(members).not.toContain(y!.location!);
    }
  });
});
