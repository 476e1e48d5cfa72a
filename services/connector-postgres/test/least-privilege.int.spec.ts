import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode, type TargetRuntime, converge } from '@provisio/connector-kit';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import pg from 'pg';
import { PostgresRoleConnector } from '../src/target/postgres-role.connector.js';
import { TargetSessions, desiredAccounts, pgRuntime, pgTarget, testRoles } from './role-test-kit.js';

/**
 * The connector logged in as a role set up exactly as docs/connectors.md ("The connector's own
 * role") says for PostgreSQL 15 — CREATEROLE, INHERIT, pg_signal_backend, a member of the heir —
 * and no superuser: create, grant, rename, disable ending a session, drop with REASSIGN OWNED.
 * And a disable whose termination is refused (no pg_signal_backend yet) is not reported done: the
 * NOLOGIN is rolled back, the session survives, and the retry after the grant ends it.
 */
describe('connector-postgres as a least-privileged role', () => {
  let target: TestDatabase;
  const { p, role, marker } = testRoles('pgl');
  const login = role('connector');
  const heir = role('heir');
  const group = role('g_devs');
  const sessions = new TargetSessions(() => target.url);
  let connector: PostgresRoleConnector;
  let runtime: TargetRuntime;
  const desired = desiredAccounts();
  const urlAs = (user: string) => sessions.urlAs(user);
  const sessionAs = (user: string) => sessions.as(user);
  const alive = (c: pg.Client) => c.query('SELECT 1').then(
    () => true,
    () => false,
  );
  const roleOf = async (name: string) =>
    (
      await target.query<{ rolcanlogin: boolean; rolconnlimit: number; groups: string[] }>(
        `SELECT r.rolcanlogin, r.rolconnlimit, ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS groups FROM pg_roles r WHERE r.rolname = $1`,
        [name],
      )
    )[0];
  const sessionsOf = async (name: string) => Number((await target.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE usename = $1`, [name]))[0]!.n);

  beforeAll(async () => {
    target = await createTestDatabase('pgltarget');
    // The DBA's part, as documented — except pg_signal_backend, granted in the first test.
    await target.query(`CREATE ROLE "${login}" LOGIN NOSUPERUSER CREATEROLE INHERIT`);
    await target.query(`CREATE ROLE "${heir}" NOLOGIN`);
    await target.query(`GRANT "${heir}" TO "${login}"`);
    await target.query(`CREATE ROLE "${group}" NOLOGIN`);
    const config = pgTarget(urlAs(login), marker, {
      concurrency: 2,
      groups: { managedPattern: `^${p}_g_` },
      disable: { terminateSessions: true },
      delete: { ownedObjects: 'reassign', reassignTo: heir, terminateSessions: true },
      // One refused call must not quarantine the target for the rest of the test.
      breaker: { consecutiveFailures: 10 },
    });
    connector = new PostgresRoleConnector(config);
    runtime = pgRuntime(config, connector);
    const me = await connector.pool.query<{ current_user: string; rolsuper: boolean }>(`SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user`);
    expect(me.rows).toEqual([{ current_user: login, rolsuper: false }]);
  }, 60_000);

  afterAll(async () => {
    await sessions.closeAll();
    await runtime?.close?.();
    await connector?.close();
    await target?.drop();
    const admin = new pg.Client({ connectionString: target.url.replace(/\/[^/]*$/, '/postgres') });
    await admin.connect();
    try {
      const roles = await admin.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname = $2`, [p, login]);
      for (const r of roles.rows) await admin.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    } finally {
      await admin.end();
    }
  }, 60_000);

  it('a refused termination rolls the NOLOGIN back and is never NO_CHANGE; after the grant of pg_signal_backend the retry ends the session', async () => {
    const d = desired('p-leaver', role('leaver'));
    const created = await converge(runtime, d, null);
    expect(created.status).toBe('APPLIED');
    const s = await sessionAs(role('leaver'));
    const leaver = { ...d, version: desired.next(), state: 'DISABLED' as const };

    for (let attempt = 0; attempt < 2; attempt++) {
      const e = await converge(runtime, leaver, created.accountRef).then(
        (r) => r,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).code).toBe(ConnectorErrorCode.Unauthorized);
      expect((e as ConnectorError).retriable).toBe(true);
      expect((e as ConnectorError).message).toMatch(/pg_signal_backend/);
      // Not done, and nothing half-done: the role can still log in, the session is alive.
      expect((await roleOf(role('leaver')))?.rolcanlogin).toBe(true);
      expect(await alive(s)).toBe(true);
    }

    await target.query(`GRANT pg_signal_backend TO "${login}"`);
    expect(await converge(runtime, leaver, created.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DISABLE' }] });
    expect(await alive(s)).toBe(false);
    expect(await sessionsOf(role('leaver'))).toBe(0);
    expect((await roleOf(role('leaver')))?.rolcanlogin).toBe(false);
    expect(await converge(runtime, { ...leaver, version: desired.next() }, created.accountRef)).toMatchObject({ status: 'NO_CHANGE' });
  });

  it('as documented: create with attributes, grant, rename, disable ending a session, drop with REASSIGN OWNED', async () => {
    const privileges = await target.query<{ member: boolean }>(`SELECT pg_has_role($1, 'pg_signal_backend', 'MEMBER') AS member`, [login]);
    expect(privileges).toEqual([{ member: true }]);
    const name = role('worker');
    const v1 = desired('p-worker', name, { attributes: { connectionLimit: 2, validUntil: '2031-01-01T00:00:00Z' }, groups: [group] });
    const r1 = await converge(runtime, v1, null);
    expect(r1).toMatchObject({ status: 'APPLIED', operations: [{ type: 'CREATE' }, { type: 'ADD_MEMBERSHIP' }] });
    expect(await roleOf(name)).toEqual({ rolcanlogin: true, rolconnlimit: 2, groups: [group] });
    expect(await converge(runtime, { ...v1, version: desired.next() }, r1.accountRef)).toMatchObject({ status: 'NO_CHANGE' });

    const moved = role('mover');
    const v2 = desired('p-worker', moved, { attributes: { connectionLimit: null, validUntil: null }, groups: [] });
    expect(await converge(runtime, v2, r1.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'RENAME' }, { type: 'UPDATE' }, { type: 'REMOVE_MEMBERSHIP' }] });
    expect(await roleOf(moved)).toEqual({ rolcanlogin: true, rolconnlimit: -1, groups: [] });

    const s = await sessionAs(moved);
    expect(await converge(runtime, { ...v2, version: desired.next(), state: 'DISABLED' }, r1.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DISABLE' }] });
    expect(await alive(s)).toBe(false);
    expect(await roleOf(moved)).toMatchObject({ rolcanlogin: false });

    // Objects the person's role owns in the target database, and a privilege the heir (the owner) granted it.
    await target.query(`CREATE TABLE "${moved}_t" (id int)`);
    await target.query(`ALTER TABLE "${moved}_t" OWNER TO "${moved}"`);
    await target.query(`CREATE TABLE "${moved}_h" (id int)`);
    await target.query(`ALTER TABLE "${moved}_h" OWNER TO "${heir}"`);
    await target.query(`GRANT SELECT ON "${moved}_h" TO "${moved}"`);
    expect(await converge(runtime, desired('p-worker', moved, { state: 'ABSENT' }), r1.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DELETE' }] });
    expect(await roleOf(moved)).toBeUndefined();
    const owners = await target.query<{ relname: string; owner: string; acl: string | null }>(
      `SELECT relname, pg_get_userbyid(relowner) AS owner, relacl::text AS acl FROM pg_class WHERE relname IN ($1, $2) ORDER BY 1`,
      [`${moved}_h`, `${moved}_t`],
    );
    expect(owners.map((o) => [o.relname, o.owner])).toEqual([
      [`${moved}_h`, heir],
      [`${moved}_t`, heir],
    ]);
    expect(owners[0]!.acl ?? '').not.toContain(moved);
    // The connector kept no membership of its own beyond the documented ones.
    const memberships = await target.query<{ g: string }>(
      `SELECT g.rolname AS g FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1`,
      [login],
    );
    expect(memberships.map((m) => m.g).sort()).toEqual([heir, 'pg_signal_backend'].sort());
  });

  it('without membership in the heir, REASSIGN OWNED is refused and nothing is dropped', async () => {
    const name = role('stuck');
    const r = await converge(runtime, desired('p-stuck', name), null);
    await target.query(`CREATE TABLE "${name}_t" (id int)`);
    await target.query(`ALTER TABLE "${name}_t" OWNER TO "${name}"`);
    await target.query(`REVOKE "${heir}" FROM "${login}"`);
    try {
      const e = await converge(runtime, desired('p-stuck', name, { state: 'ABSENT' }), r.accountRef).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).code).toBe(ConnectorErrorCode.Unauthorized);
      expect(await roleOf(name)).toMatchObject({ rolcanlogin: true });
      expect((await target.query<{ o: string }>(`SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname = $1`, [`${name}_t`]))[0]?.o).toBe(name);
    } finally {
      await target.query(`GRANT "${heir}" TO "${login}"`);
    }
    expect(await converge(runtime, desired('p-stuck', name, { state: 'ABSENT' }), r.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DELETE' }] });
  });
});
