import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, type TargetRuntime, converge, type DesiredAccount } from '@provisio/connector-kit';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { expectNamesNone as namesNone, rejectionOf } from '@provisio/testing/expect';
import { PostgresRoleConnector } from '../src/target/postgres-role.connector.js';
import { desiredAccounts, pgRuntime, pgTarget, testRoles } from './role-test-kit.js';

/**
 * Error texts of connector-postgres through the kit's converge on a real PostgreSQL: what goes
 * into results, dead letters and logs names the target, role oids, rules and group roles, never a
 * person's role name — also where PostgreSQL's own message or detail names it.
 */
describe('connector-postgres error texts name no account', () => {
  let target: TestDatabase;
  const { p, role, marker } = testRoles('pge');
  const desired = desiredAccounts();
  const closers: (() => Promise<void>)[] = [];

  const open = (settings: Record<string, unknown> = {}) => {
    const config = pgTarget(target.url, marker, { concurrency: 2, ...settings });
    const connector = new PostgresRoleConnector(config);
    const runtime = pgRuntime(config, connector);
    closers.push(async () => {
      await runtime.close?.();
      await connector.close();
    });
    return runtime;
  };
  const failure = (d: DesiredAccount, ref: string | null, runtime: TargetRuntime) => rejectionOf(converge(runtime, d, ref), ConnectorError);

  beforeAll(async () => {
    target = await createTestDatabase('pgetarget');
  }, 60_000);

  afterAll(async () => {
    for (const close of closers) await close();
    const roles = await target.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)`, [p]);
    for (const r of roles) {
      await target.query(`DROP OWNED BY "${r.rolname}"`).catch(() => undefined);
      await target.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    }
    await target?.drop();
  }, 60_000);

  it('a role with the name that Provisio does not manage: ACCOUNT_NOT_MANAGED without the name', async () => {
    const runtime = open();
    await target.query(`CREATE ROLE "${role('grace.hopper')}" LOGIN`);
    const e = await failure(desired('p-grace', role('grace.hopper')), null, runtime);
    expect(e.code).toBe('ACCOUNT_NOT_MANAGED');
    namesNone(e.message, 'grace.hopper');
    expect(e.message).toMatch(/on target pg \(ref \d+\) and is not managed by Provisio/);
  });

  it("a mover's rename onto a taken name (PostgreSQL: role \"…\" already exists): permanent, neither the old nor the new name in the text", async () => {
    const runtime = open();
    const created = await converge(runtime, desired('p-mover', role('ada.byron')), null);
    // Taken by a role that is not this person's and that the read by ref does not see.
    await target.query(`CREATE ROLE "${role('ada.lovelace')}" NOLOGIN`);
    const e = await failure(desired('p-mover', role('ada.lovelace')), created.accountRef, runtime);
    expect(e.code).toBe('TARGET_ALREADY_EXISTS');
    namesNone(e.message, 'ada.lovelace', 'ada.byron');
    expect(e.message).toMatch(/^renaming the account of person p-mover on target pg failed: .*alter role: role "…" already exists \(SQLSTATE 42710\)$/);
  });

  it("a group role that is a member of a person's role is refused naming that role by oid; a missing group names the group only", async () => {
    const runtime = open();
    const owner = await converge(runtime, desired('p-owner', role('alan.turing')), null);
    await target.query(`CREATE ROLE "${role('g_wrap')}" NOLOGIN`);
    await target.query(`GRANT "${role('alan.turing')}" TO "${role('g_wrap')}"`);
    const e = await failure(desired('p-joiner', role('joan.clarke'), { groups: [role('g_wrap')] }), null, runtime);
    expect(e.code).toBe('INVALID_COMMAND');
    expect(e.message).toContain(`is a member of role oid ${owner.accountRef}, a role Provisio manages as a person's account`);
    namesNone(e.message, 'alan.turing', 'joan.clarke');

    const missing = await failure(desired('p-joiner', role('joan.clarke'), { groups: [role('g_missing')] }), null, runtime);
    expect(missing.code).toBe('GROUP_NOT_FOUND');
    expect(missing.message).toContain(role('g_missing'));
    namesNone(missing.message, 'joan.clarke');
  });

  it("a refused drop whose PostgreSQL detail names the role (default privileges): the role's name redacted, the objects kept", async () => {
    const runtime = open({ delete: { ownedObjects: 'refuse' } });
    const created = await converge(runtime, desired('p-leaver', role('katherine.johnson')), null);
    await target.query(`ALTER DEFAULT PRIVILEGES FOR ROLE "${role('katherine.johnson')}" IN SCHEMA public GRANT SELECT ON TABLES TO PUBLIC`);
    const e = await failure(desired('p-leaver', role('katherine.johnson'), { state: 'ABSENT' }), created.accountRef, runtime);
    expect(e.code).toBe('TARGET_REJECTED');
    expect(e.message).toMatch(/default privileges/);
    expect(e.message).toContain(`role oid ${created.accountRef} (person p-leaver)`);
    namesNone(e.message, 'katherine.johnson');
  });
});
