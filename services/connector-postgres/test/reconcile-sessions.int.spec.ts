import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppliedStateRepository,
  DriftDetector,
  KeyedMutex,
  Reconciler,
  TargetRegistry,
  connectorTablesSql,
  connectorTablesV2Sql,
  connectorTablesV3Sql,
  converge,
  type DesiredAccount,
  type TargetAccount,
} from '@provisio/connector-kit';
import { OutboxWriter, messagingTablesSql } from '@provisio/messaging';
import { Database } from '@provisio/persistence';
import { createTestDatabase, silentLogger, type TestDatabase } from '@provisio/testing';
import pg from 'pg';
import { PostgresRoleConnector } from '../src/target/postgres-role.connector.js';
import { TargetSessions, desiredAccounts, pgTarget, testRoles } from './role-test-kit.js';

const silent = silentLogger();
const SCHEMA = 'recsess';

/**
 * Reconciliation of connector-postgres with the real Reconciler on a real PostgreSQL: a managed
 * role that is NOLOGIN but still has a session open (a termination that failed after the
 * NOLOGIN, or a NOLOGIN set by hand) is a leaver whose disable is not done. The listing must
 * see it as the read for a command does — drift (WRONG_STATE), corrected in correct mode by
 * ending the sessions — in one query per page.
 */
describe('connector-postgres reconciliation of NOLOGIN roles with open sessions', () => {
  let tdb: TestDatabase;
  let db: Database;
  let connector: PostgresRoleConnector;
  let registry: TargetRegistry;
  let reconciler: Reconciler;
  const applied = new AppliedStateRepository(SCHEMA);
  const { p, role, marker } = testRoles('pgrs');
  const desired = desiredAccounts();
  const sessions = new TargetSessions(() => tdb.url);

  const alive = (c: pg.Client) =>
    c.query('SELECT 1').then(
      () => true,
      () => false,
    );
  const sessionsOf = async (name: string) => Number((await tdb.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE usename = $1`, [name]))[0]!.n);
  const canLogin = async (name: string) => (await tdb.query<{ l: boolean }>(`SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = $1`, [name]))[0]?.l;
  /** Converges the desired state on the role and stores it as the connector does after a command. */
  const provision = async (d: DesiredAccount) => {
    const runtime = registry.get('pg')!;
    const outcome = await converge(runtime, d, null);
    await db.transaction((tx) => applied.save(tx.sql, [{ personId: d.personId, target: d.target, appliedVersion: d.version, desired: d, accountRef: outcome.accountRef, status: 'APPLIED', error: null }]));
    return outcome;
  };

  beforeAll(async () => {
    tdb = await createTestDatabase('pgrecsess');
    await tdb.query(`CREATE SCHEMA ${SCHEMA}`);
    for (const sql of [...messagingTablesSql(SCHEMA), ...connectorTablesSql(SCHEMA), ...connectorTablesV2Sql(SCHEMA), ...connectorTablesV3Sql(SCHEMA)]) await tdb.query(sql);
    db = await Database.open({ url: tdb.url, schema: SCHEMA, applicationName: 'reconcile-sessions-test', migrate: false });
    const config = pgTarget(tdb.url, marker, { concurrency: 2, reconcile: { orphans: 'disable', maxOrphanShare: 1, pageSize: 2 } });
    connector = new PostgresRoleConnector(config);
    registry = new TargetRegistry('postgres', [{ config: config, connector, planOptions: connector.planOptions() }], silent);
    reconciler = new Reconciler(db, new OutboxWriter(SCHEMA, 'test'), applied, registry, new KeyedMutex(), silent, SCHEMA);
  }, 60_000);

  afterAll(async () => {
    await sessions.closeAll();
    await reconciler?.drain();
    await registry?.close();
    await connector?.close();
    await db?.close();
    const roles = await tdb.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)`, [p]);
    for (const r of roles) await tdb.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    await tdb?.drop();
  }, 60_000);

  it('reports a leaver whose NOLOGIN role still has a session as WRONG_STATE, ends the session in correct mode, and lists in one query per page', async () => {
    // A leaver whose termination did not happen: the role is NOLOGIN, the session lives on.
    await provision(desired('p-leaver', role('leaver')));
    const leaverSession = await sessions.as(role('leaver'));
    await tdb.query(`ALTER ROLE "${role('leaver')}" NOLOGIN`);
    await db.transaction((tx) => {
      const d = desired('p-leaver', role('leaver'), { state: 'DISABLED' });
      return applied.save(tx.sql, [{ personId: d.personId, target: d.target, appliedVersion: d.version, desired: d, accountRef: null, status: 'APPLIED', error: null }]);
    });
    // A leaver disabled properly (no session): no drift. A rehire whose role is NOLOGIN with a session: still to enable.
    await provision(desired('p-done', role('done')));
    await provision(desired('p-done', role('done'), { state: 'DISABLED' }));
    await provision(desired('p-rehire', role('rehire')));
    const rehireSession = await sessions.as(role('rehire'));
    await tdb.query(`ALTER ROLE "${role('rehire')}" NOLOGIN`);
    // An orphan (marked, no desired state) that is NOLOGIN with a session: reconcile.orphans 'disable' must end it.
    await tdb.query(`CREATE ROLE "${role('orphan')}" LOGIN`);
    await tdb.query(`COMMENT ON ROLE "${role('orphan')}" IS '${marker}p-orphan'`);
    const orphanSession = await sessions.as(role('orphan'));
    await tdb.query(`ALTER ROLE "${role('orphan')}" NOLOGIN`);
    // Plain active persons, so that the listing takes several pages of 2.
    for (const n of ['a1', 'a2', 'a3']) await provision(desired(`p-${n}`, role(n)));

    // The listing agrees with the read for a command, and costs one query per page.
    const queries: string[] = [];
    const query = connector.pool.query.bind(connector.pool) as (...args: unknown[]) => unknown;
    (connector.pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries.push(String(typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text));
      return query(...args);
    };
    const listed: TargetAccount[] = [];
    let cursor: string | null = null;
    let pages = 0;
    try {
      do {
        const page = await connector.listAccounts(cursor, 2);
        listed.push(...page.items);
        cursor = page.next;
        pages++;
      } while (cursor !== null);
    } finally {
      delete (connector.pool as unknown as { query?: unknown }).query;
    }
    expect(queries).toHaveLength(pages);
    expect(listed).toHaveLength(7);
    const listedLeaver = listed.find((a) => a.owner === 'p-leaver')!;
    expect(listedLeaver).toMatchObject({ enabled: false, openSessions: true });
    expect(listed.find((a) => a.owner === 'p-done')).toMatchObject({ enabled: false });
    expect(listed.find((a) => a.owner === 'p-done')!.openSessions).toBeUndefined();
    const read = await connector.readAccount({ personId: 'p-leaver', accountName: role('leaver'), accountRef: null, desired: desired('p-leaver', role('leaver'), { state: 'DISABLED' }) });
    expect(read).toEqual(listedLeaver);

    // What the run compares: the listed accounts against the stored desired states.
    const stored = await applied.desiredForTarget(db.sql, 'pg');
    const detector = new DriftDetector(
      stored.map((x) => x.desired),
      connector.planOptions(),
    );
    expect([...listed.flatMap((a) => detector.observe(a)), ...detector.finish()].map((f) => [f.kind, f.personId, f.details]).sort()).toEqual([
      ['ORPHAN', 'p-orphan', ['no desired state']],
      ['WRONG_STATE', 'p-leaver', ['enabled']],
      ['WRONG_STATE', 'p-rehire', ['enabled']],
    ]);

    const report = await reconciler.run('pg', 'report', 'API');
    expect(report.status).toBe('SUCCEEDED');
    expect(report.accountsScanned).toBe(7);
    expect(report.drift).toEqual({ WRONG_STATE: 2, ORPHAN: 1 });
    expect(await alive(leaverSession)).toBe(true);

    const correct = await reconciler.run('pg', 'correct', 'API');
    expect(correct.status).toBe('SUCCEEDED');
    expect(correct.corrected).toBe(3);
    expect(correct.correctionFailures).toBe(0);
    // The leaver's and the orphan's sessions are ended, their roles stay NOLOGIN; the rehire can log in again.
    expect(await alive(leaverSession)).toBe(false);
    expect(await sessionsOf(role('leaver'))).toBe(0);
    expect(await canLogin(role('leaver'))).toBe(false);
    expect(await alive(orphanSession)).toBe(false);
    expect(await canLogin(role('orphan'))).toBe(false);
    expect(await canLogin(role('rehire'))).toBe(true);
    expect(await alive(rehireSession)).toBe(true);

    // Nothing left but the orphan (reported again: disabled, still no desired state).
    const after = await reconciler.run('pg', 'report', 'API');
    expect(after.drift).toEqual({ ORPHAN: 1 });
  }, 60_000);
});
