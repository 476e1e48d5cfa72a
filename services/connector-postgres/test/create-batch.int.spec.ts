import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode } from '@provisio/connector-kit';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import pg from 'pg';
import { PostgresRoleConnector } from '../src/target/postgres-role.connector.js';
import { desiredAccounts, pgTarget, testRoles } from './role-test-kit.js';

/**
 * Creates of concurrent commands are committed together (one round trip and one commit for
 * several roles) on the real PostgreSQL, and still each gets exactly its own outcome: a taken
 * name, or a name PostgreSQL refuses, fails that person's create alone; nobody's role is left
 * half-made (created without its ownership marker).
 */
describe('PostgreSQL creates, committed together', () => {
  let target: TestDatabase;
  const { p, role, marker } = testRoles('pgb');
  const desired = desiredAccounts();
  const open: PostgresRoleConnector[] = [];

  /** A connector on the target whose pool counts the round trips that create roles. */
  const connectorCounting = (createBatch?: { maxRoles?: number; maxInFlight?: number; lockTimeoutMs?: number }) => {
    const config = pgTarget(target.url, marker, { concurrency: 8, ...(createBatch ? { createBatch } : {}) });
    const pool = new pg.Pool({ connectionString: target.url, max: 8, options: '-c standard_conforming_strings=on' });
    const trips: string[] = [];
    const query = pool.query.bind(pool) as (sql: string) => Promise<unknown>;
    (pool as unknown as { query: (sql: string) => Promise<unknown> }).query = (sql: string) => {
      if (typeof sql === 'string' && sql.includes('CREATE ROLE')) trips.push(sql);
      return query(sql);
    };
    const connector = new PostgresRoleConnector(config, pool);
    open.push(connector);
    return { connector, trips };
  };
  const managed = async () =>
    target.query<{ rolname: string; comment: string | null; login: boolean }>(
      `SELECT r.rolname, shobj_description(r.oid, 'pg_authid') AS comment, r.rolcanlogin AS login FROM pg_roles r WHERE r.rolname LIKE $1 ORDER BY 1`,
      [`${p}\\_%`],
    );

  beforeAll(async () => {
    target = await createTestDatabase('pgbtarget');
  }, 60_000);

  afterAll(async () => {
    for (const c of open) await c.close();
    for (const r of await managed()) await target.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    await target?.drop();
  }, 60_000);

  it('24 concurrent creates take fewer round trips than roles; every role is created with its marker and its own oid', async () => {
    const { connector, trips } = connectorCounting();
    const wanted = Array.from({ length: 24 }, (_, i) => desired(`p-ok${i}`, role(`ok${i}`), { state: i % 3 === 0 ? 'DISABLED' : 'ACTIVE', attributes: i % 2 ? { connectionLimit: i } : {} }));
    const accounts = await Promise.all(wanted.map((d) => connector.createAccount(d)));

    // Two went out at once (maxInFlight 2); the others waited and went together.
    expect(trips.length).toBeGreaterThanOrEqual(2);
    expect(trips.length).toBeLessThan(wanted.length);
    const roles = await target.query<{ oid: string; rolname: string; comment: string; login: boolean; limit: number }>(
      `SELECT r.oid::text AS oid, r.rolname, shobj_description(r.oid, 'pg_authid') AS comment, r.rolcanlogin AS login, r.rolconnlimit AS limit FROM pg_roles r WHERE r.rolname LIKE $1`,
      [`${p}\\_ok%`],
    );
    const byName = new Map(roles.map((r) => [r.rolname, r]));
    wanted.forEach((d, i) => {
      const r = byName.get(d.accountName)!;
      expect(r).toMatchObject({ comment: `${marker}${d.personId}`, login: d.state === 'ACTIVE', limit: i % 2 ? i : -1 });
      expect(accounts[i]).toMatchObject({ ref: r.oid, name: d.accountName, owner: d.personId, enabled: d.state === 'ACTIVE' });
    });
    expect(new Set(accounts.map((a) => a.ref)).size).toBe(wanted.length);
  });

  it('a taken name and a refused value in the same batch fail only their own creates; the others are created', async () => {
    await target.query(`CREATE ROLE "${role('taken')}" NOLOGIN`);
    const { connector, trips } = connectorCounting({ maxInFlight: 1 });
    const good = Array.from({ length: 10 }, (_, i) => desired(`p-mix${i}`, role(`mix${i}`)));
    const taken = desired('p-taken', role('taken'));
    // Valid for the connector, refused by PostgreSQL: names starting with pg_ are reserved (42939).
    const refused = desired('p-bad', `pg_${role('bad')}`);
    const order = [good[0]!, good[1]!, taken, ...good.slice(2, 6), refused, ...good.slice(6)];
    const outcomes = await Promise.allSettled(order.map((d) => connector.createAccount(d)));

    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[order[i]!.personId, (o.reason as ConnectorError).code]] : []));
    expect(failed.map(([person]) => person).sort()).toEqual(['p-bad', 'p-taken']);
    expect(failed.find(([person]) => person === 'p-taken')?.[1]).toBe(ConnectorErrorCode.AlreadyExists);
    expect((outcomes[order.indexOf(refused)] as PromiseRejectedResult).reason.retriable).toBe(false);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConnectorError);
    // The first went alone; the rest together, then (the batch failed) one by one.
    expect(trips.length).toBeGreaterThan(order.length);
    const roles = await managed();
    for (const d of good) expect(roles.find((r) => r.rolname === d.accountName)).toMatchObject({ comment: `${marker}${d.personId}`, login: true });
    // Nothing half-made: the taken role is untouched (no marker), and every role made by a create carries its marker.
    expect(roles.find((r) => r.rolname === role('taken'))).toMatchObject({ comment: null, login: false });
    for (const r of roles.filter((x) => x.rolname !== role('taken'))) expect(r.comment).toMatch(new RegExp(`^${marker.replace(/[()]/g, '\\$&')}p-`));
  });

  it('maxRoles 1 gives every create its own transaction', async () => {
    const { connector, trips } = connectorCounting({ maxRoles: 1, maxInFlight: 1 });
    await Promise.all(Array.from({ length: 6 }, (_, i) => connector.createAccount(desired(`p-single${i}`, role(`single${i}`)))));
    expect(trips).toHaveLength(6);
    expect((await managed()).filter((r) => r.rolname.startsWith(role('single')))).toHaveLength(6);
  });
  it('a name locked by another session holds the others up for the lock timeout at most, then waits on its own', async () => {
    const { connector } = connectorCounting({ maxInFlight: 1, lockTimeoutMs: 300 });
    const blocker = new pg.Client({ connectionString: target.url });
    await blocker.connect();
    try {
      // Another session is creating a role of that name and has not committed yet.
      await blocker.query('BEGIN');
      await blocker.query(`CREATE ROLE "${role('held')}" NOLOGIN`);
      const held = desired('p-held', role('held'));
      const others = Array.from({ length: 8 }, (_, i) => desired(`p-free${i}`, role(`free${i}`)));
      const settled = new Set<string>();
      // The held name first: it takes the only slot, alone.
      const all = [held, ...others].map((d) => connector.createAccount(d).finally(() => settled.add(d.personId)));
      const started = Date.now();
      await Promise.all(all.slice(1));
      // The others did not wait for the blocker (it holds the lock until it ends, below).
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(settled.has('p-held')).toBe(false);
      expect((await managed()).filter((r) => r.rolname.startsWith(role('free'))).map((r) => r.comment)).toHaveLength(8);
      // The blocker gives up: the held create goes through, marked as this person's.
      await blocker.query('ROLLBACK');
      await expect(all[0]).resolves.toMatchObject({ name: role('held'), owner: 'p-held' });
      expect((await managed()).find((r) => r.rolname === role('held'))).toMatchObject({ comment: `${marker}p-held`, login: true });
    } finally {
      await blocker.end().catch(() => undefined);
    }
  });
});
