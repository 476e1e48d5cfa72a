import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, DriftDetector, type TargetRuntime, converge, type TargetAccount } from '@provisio/connector-kit';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { canonicalValidUntil, PostgresRoleConnector } from '../src/target/postgres-role.connector.js';
import { desiredAccounts, pgRuntime, pgTarget, testRoles } from './role-test-kit.js';

/**
 * PostgresRoleConnector through the kit's converge (read → plan → write the difference) on the
 * real PostgreSQL, without Kafka: VALID UNTIL round trips, look-up by the ownership marker, and
 * which group roles may be granted.
 */
describe('PostgresRoleConnector on a real PostgreSQL', () => {
  let target: TestDatabase;
  let connector: PostgresRoleConnector;
  let runtime: TargetRuntime;
  const { p, role, marker } = testRoles('pgr');
  const desired = desiredAccounts();
  const rolesOf = async (personId: string) =>
    target.query<{ rolname: string; valid: string | null }>(
      `SELECT r.rolname, r.rolvaliduntil::text AS valid FROM pg_roles r WHERE shobj_description(r.oid, 'pg_authid') = $1`,
      [`${marker}${personId}`],
    );

  beforeAll(async () => {
    target = await createTestDatabase('pgrtarget');
    const config = pgTarget(target.url, marker, { concurrency: 2, groups: { managedPattern: `^${p}_g_` } });
    connector = new PostgresRoleConnector(config);
    runtime = pgRuntime(config, connector);
    await target.query(`CREATE ROLE "${role('g_devs')}" NOLOGIN`);
    await target.query(`CREATE ROLE "${role('g_admins')}" NOLOGIN CREATEROLE`);
    await target.query(`CREATE ROLE "${role('g_sneaky')}" NOLOGIN`);
    await target.query(`GRANT pg_read_server_files TO "${role('g_sneaky')}"`);
    await target.query(`CREATE ROLE "${role('other')}" NOLOGIN`);
  }, 60_000);

  afterAll(async () => {
    await runtime?.close?.();
    await connector?.close();
    const roles = await target.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${p}\\_%`]);
    for (const r of roles) await target.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    await target?.drop();
  }, 60_000);

  it('canonicalValidUntil: one representation for every spelling; infinity is null', () => {
    expect(canonicalValidUntil('2030-01-01T00:00:00Z')).toBe('2030-01-01T00:00:00.000Z');
    expect(canonicalValidUntil('2030-01-01T01:00:00+01:00')).toBe('2030-01-01T00:00:00.000Z');
    expect(canonicalValidUntil(new Date('2030-01-01T00:00:00Z'))).toBe('2030-01-01T00:00:00.000Z');
    expect(canonicalValidUntil(Infinity)).toBeNull();
    expect(canonicalValidUntil('infinity')).toBeNull();
    expect(canonicalValidUntil(null)).toBeNull();
    expect(canonicalValidUntil('soon')).toBe('soon');
  });

  it('validUntil: set, replay NO_CHANGE, null (infinity), replay NO_CHANGE, listed and reconciled without drift', async () => {
    const set = desired('p-val', role('val'), { attributes: { validUntil: '2030-01-01T00:00:00Z' } });
    const r1 = await converge(runtime, set, null);
    expect(r1.status).toBe('APPLIED');
    expect(await converge(runtime, { ...set, version: desired.next() }, r1.accountRef)).toMatchObject({ status: 'NO_CHANGE', operations: [] });

    const cleared = desired('p-val', role('val'), { attributes: { validUntil: null } });
    expect(await converge(runtime, cleared, r1.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'UPDATE' }] });
    expect((await rolesOf('p-val'))[0]?.valid).toBe('infinity');
    // The role stays usable: replays, a leaver's disable and the listing all read 'infinity'.
    expect(await converge(runtime, { ...cleared, version: desired.next() }, r1.accountRef)).toMatchObject({ status: 'NO_CHANGE', operations: [] });
    expect(await converge(runtime, { ...cleared, version: desired.next() }, null)).toMatchObject({ status: 'NO_CHANGE' });
    const disabled = desired('p-val', role('val'), { state: 'DISABLED', attributes: { validUntil: null } });
    expect(await converge(runtime, disabled, r1.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DISABLE' }] });

    const other = desired('p-val2', role('val2'), { attributes: { validUntil: '2031-06-30T12:00:00+02:00' } });
    await converge(runtime, other, null);
    const listed: TargetAccount[] = [];
    let cursor: string | null = null;
    do {
      const page = await connector.listAccounts(cursor, 1);
      listed.push(...page.items);
      cursor = page.next;
    } while (cursor !== null);
    expect(listed.map((a) => [a.name, a.attributes['validUntil']])).toEqual([
      [role('val'), null],
      [role('val2'), '2031-06-30T10:00:00.000Z'],
    ]);
    const detector = new DriftDetector([disabled, other], runtime.planOptions);
    const findings = listed.flatMap((a) => detector.observe(a));
    expect([...findings, ...detector.finish()]).toEqual([]);
  });

  it('finds a renamed person by the ownership marker: one role, renamed', async () => {
    const v1 = desired('p-ren', role('before'));
    await converge(runtime, v1, null);
    // A later version with a new name and no known ref (e.g. the applied state was lost).
    const v2 = desired('p-ren', role('after'));
    expect(await converge(runtime, v2, null)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'RENAME' }] });
    expect(await rolesOf('p-ren')).toEqual([{ rolname: role('after'), valid: null }]);
    // The batch read (prefetch) finds it the same way.
    const v3 = desired('p-ren', role('again'));
    const prefetched = await connector.readAccounts([{ personId: 'p-ren', accountName: role('again'), accountRef: null, desired: v3 }]);
    expect(prefetched.get('p-ren')).toMatchObject({ name: role('after'), owner: 'p-ren' });
    expect(await converge(runtime, v3, null, prefetched.get('p-ren'))).toMatchObject({ status: 'APPLIED', operations: [{ type: 'RENAME' }] });
    expect((await rolesOf('p-ren')).map((r) => r.rolname)).toEqual([role('again')]);
  });

  it('grants only managed, unprivileged group roles; a refusal is permanent and names the group and the rule', async () => {
    const base = desired('p-grp', role('grp'));
    await converge(runtime, base, null);
    expect(await converge(runtime, { ...base, version: desired.next(), groups: [role('g_devs')] }, null)).toMatchObject({ status: 'APPLIED' });
    const refused = async (group: string) => {
      const e = await converge(runtime, { ...base, version: desired.next(), groups: [role('g_devs'), group] }, null).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).retriable).toBe(false);
      return (e as ConnectorError).message;
    };
    expect(await refused('postgres')).toMatch(/group role postgres refused .*groups\.managedPattern/);
    expect(await refused(role('other'))).toMatch(/not a managed group/);
    expect(await refused(role('g_admins'))).toMatch(new RegExp(`group role ${role('g_admins')} refused .*CREATEROLE`));
    expect(await refused(role('g_sneaky'))).toMatch(/predefined role pg_read_server_files/);
    const granted = await target.query<{ g: string }>(
      `SELECT g.rolname AS g FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [role('grp')],
    );
    expect(granted.map((r) => r.g)).toEqual([role('g_devs')]);
  });

  it('without a managed pattern still refuses superuser roles', async () => {
    const open = new PostgresRoleConnector(pgTarget(target.url, marker, { id: 'pg2' }));
    try {
      const account = (await open.readAccount({ personId: 'p-grp', accountName: role('grp'), accountRef: null, desired: desired('p-grp', role('grp')) }))!;
      await expect(open.addGroupMembership(account, 'postgres')).rejects.toThrow(/group role postgres refused .*SUPERUSER/);
    } finally {
      await open.close();
    }
  });
});
