import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { Writable } from 'node:stream';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { JobDeferred, JobScheduler, schedulerTablesSql } from '../src/index.js';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

class Init implements MigrationInterface {
  name = 'Init1764000000000';
  async up(q: QueryRunner): Promise<void> {
    for (const sql of schedulerTablesSql('jobs')) await q.query(sql);
    await q.query('CREATE TABLE jobs.effects (job_key text NOT NULL, fired_by text NOT NULL)');
  }
  async down(): Promise<void> {}
}

describe('durable job scheduler on real PostgreSQL', () => {
  let tdb: TestDatabase;
  let dbs: Database[];

  beforeAll(async () => {
    tdb = await createTestDatabase('sched');
    dbs = await Promise.all([1, 2, 3].map(() => Database.open({ url: tdb.url, schema: 'jobs', applicationName: 'sched-test', migrations: [Init] })));
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.close()));
    await tdb.drop();
  });

  function replica(i: number): JobScheduler {
    const s = new JobScheduler({ db: dbs[i]!, schema: 'jobs', logger, batchSize: 7 });
    s.register<{ n: number }>('effect', async (job, tx) => {
      await tx.sql.query('INSERT INTO jobs.effects (job_key, fired_by) VALUES ($1, $2)', [job.key, `r${i}`]);
    });
    return s;
  }

  it('fires each due job exactly once with three replicas racing, and leaves future jobs alone', async () => {
    const r0 = replica(0);
    const past = new Date(Date.now() - 1000);
    await dbs[0]!.transaction(async (tx) => {
      for (let i = 0; i < 150; i++) await r0.schedule(tx.sql, { kind: 'effect', key: `k${i}`, dueAt: past, payload: { n: i } });
      await r0.schedule(tx.sql, { kind: 'effect', key: 'future', dueAt: new Date(Date.now() + 3_600_000) });
    });
    const counts = await Promise.all([0, 1, 2].map((i) => replica(i).runDue()));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(150);
    const effects = await tdb.query<{ job_key: string; n: number }>('SELECT job_key, count(*)::int AS n FROM jobs.effects GROUP BY job_key');
    expect(effects).toHaveLength(150);
    expect(effects.every((e) => e.n === 1)).toBe(true);
    expect((await r0.pending(dbs[0]!.sql)).map((j) => j.key)).toEqual(['future']);
  });

  it('schedules and cancels many jobs in one statement, the last duplicate winning', async () => {
    const s = replica(0);
    const later = new Date(Date.now() + 120_000);
    await dbs[0]!.transaction(async (tx) => {
      await s.scheduleMany(tx.sql, [
        { kind: 'bulk', key: 'b1', dueAt: new Date(Date.now() + 60_000) },
        { kind: 'bulk', key: 'b2', dueAt: later, payload: { n: 2 } },
        { kind: 'bulk', key: 'b1', dueAt: later, payload: { n: 1 } },
      ]);
      await s.scheduleMany(tx.sql, [{ kind: 'bulk', key: 'b3', dueAt: later }]);
    });
    const pending = await s.pending(dbs[0]!.sql, { kind: 'bulk' });
    expect(pending.map((j) => [j.key, j.dueAt.getTime(), j.payload])).toEqual([
      ['b1', later.getTime(), { n: 1 }],
      ['b2', later.getTime(), { n: 2 }],
      ['b3', later.getTime(), {}],
    ]);
    expect(await s.cancelMany(dbs[0]!.sql, 'bulk', ['b1', 'b3', 'nope'])).toBe(2);
    expect((await s.pending(dbs[0]!.sql, { kind: 'bulk' })).map((j) => j.key)).toEqual(['b2']);
  });

  it('rescheduling a key replaces its pending job; cancel removes it', async () => {
    const s = replica(0);
    const soon = new Date(Date.now() - 10);
    await dbs[0]!.transaction(async (tx) => {
      await s.schedule(tx.sql, { kind: 'effect', key: 're', dueAt: new Date(Date.now() + 60_000) });
      await s.schedule(tx.sql, { kind: 'effect', key: 're', dueAt: soon });
      await s.schedule(tx.sql, { kind: 'effect', key: 'gone', dueAt: soon });
      expect(await s.cancel(tx.sql, 'effect', 'gone')).toBe(true);
    });
    expect(await s.runDue()).toBe(1);
    expect(await tdb.query('SELECT 1 FROM jobs.effects WHERE job_key = $1', ['gone'])).toHaveLength(0);
    expect(await tdb.query('SELECT 1 FROM jobs.effects WHERE job_key = $1', ['re'])).toHaveLength(1);
  });

  it('a job that reschedules itself from its handler stays pending for the new time', async () => {
    const s = new JobScheduler({ db: dbs[0]!, schema: 'jobs', logger });
    const next = new Date(Date.now() + 3_600_000);
    s.register('chain', async (job, tx) => {
      await tx.sql.query('INSERT INTO jobs.effects (job_key, fired_by) VALUES ($1, $2)', [job.key, 'chain']);
      await s.schedule(tx.sql, { kind: 'chain', key: job.key, dueAt: next });
    });
    await dbs[0]!.transaction((tx) => s.schedule(tx.sql, { kind: 'chain', key: 'c1', dueAt: new Date(Date.now() - 10) }));
    expect(await s.runDue()).toBe(1);
    expect(await tdb.query('SELECT 1 FROM jobs.effects WHERE job_key = $1', ['c1'])).toHaveLength(1);
    const pending = await s.pending(dbs[0]!.sql, { kind: 'chain' });
    expect(pending.map((j) => [j.key, j.dueAt.getTime()])).toEqual([['c1', next.getTime()]]);
  });

  it('a failing job rolls back its effects, keeps them from other jobs, and is retried later', async () => {
    const s = new JobScheduler({ db: dbs[0]!, schema: 'jobs', logger });
    let calls = 0;
    s.register('flaky', async (job, tx) => {
      await tx.sql.query('INSERT INTO jobs.effects (job_key, fired_by) VALUES ($1, $2)', [job.key, 'flaky']);
      if (++calls === 1) throw new Error('target busy');
    });
    await dbs[0]!.transaction((tx) => s.schedule(tx.sql, { kind: 'flaky', key: 'f1', dueAt: new Date(Date.now() - 10) }));
    expect(await s.runDue()).toBe(1);
    expect(await tdb.query('SELECT 1 FROM jobs.effects WHERE job_key = $1', ['f1'])).toHaveLength(0);
    const [job] = await s.pending(dbs[0]!.sql, { kind: 'flaky' });
    expect(job).toMatchObject({ key: 'f1', attempts: 1 });
    expect(job!.dueAt.getTime()).toBeGreaterThan(Date.now());
    expect(await s.runDue(new Date(Date.now() + 10_000))).toBe(1);
    expect(await tdb.query('SELECT 1 FROM jobs.effects WHERE job_key = $1', ['f1'])).toHaveLength(1);
  });

  it('a job that meets a held lock is deferred: same due time, no attempt used, never failed for good; it runs once the lock is free', async () => {
    await tdb.query('CREATE TABLE IF NOT EXISTS jobs.held (k text PRIMARY KEY)');
    await tdb.query(`INSERT INTO jobs.held (k) VALUES ('busy') ON CONFLICT DO NOTHING`);
    const s = new JobScheduler({ db: dbs[0]!, schema: 'jobs', logger, maxAttempts: 2 });
    const seen: { dueAt: number; now: number }[] = [];
    s.register('locky', async (job, tx, pass) => {
      await tx.sql.query(`SELECT 1 FROM jobs.held WHERE k = 'busy' FOR UPDATE NOWAIT`);
      await tx.sql.query('INSERT INTO jobs.effects (job_key, fired_by) VALUES ($1, $2)', [job.key, 'locky']);
      seen.push({ dueAt: job.dueAt.getTime(), now: pass.now.getTime() });
    });
    const due = new Date(Date.now() - 5000);
    await dbs[0]!.transaction((tx) => s.schedule(tx.sql, { kind: 'locky', key: 'l1', dueAt: due }));
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => (held = r));
    const holder = dbs[1]!.transaction(async (tx) => {
      await tx.sql.query(`SELECT 1 FROM jobs.held WHERE k = 'busy' FOR UPDATE`);
      held();
      await new Promise<void>((r) => (release = r));
    });
    await isHeld;
    // More passes than maxAttempts: a failure would have marked it failed by now.
    for (let i = 0; i < 4; i++) expect(await s.runDue()).toBe(1);
    const [job] = await s.pending(dbs[0]!.sql, { kind: 'locky' });
    expect(job).toMatchObject({ key: 'l1', attempts: 0 });
    expect(job!.dueAt.getTime()).toBe(due.getTime());
    expect(await tdb.query('SELECT 1 FROM jobs.effects WHERE job_key = $1', ['l1'])).toHaveLength(0);
    release();
    await holder;
    const passAt = new Date();
    expect(await s.runDue(passAt)).toBe(1);
    expect(seen).toEqual([{ dueAt: due.getTime(), now: passAt.getTime() }]);
    expect(await tdb.query('SELECT status, attempts FROM jobs.scheduled_jobs WHERE job_key = $1', ['l1'])).toEqual([{ status: 'done', attempts: 1 }]);
  });

  it('a handler can defer its job explicitly with JobDeferred', async () => {
    const s = new JobScheduler({ db: dbs[0]!, schema: 'jobs', logger, batchSize: 1 });
    let calls = 0;
    s.register('later', async () => {
      calls++;
      throw new JobDeferred('not yet');
    });
    await dbs[0]!.transaction((tx) => s.schedule(tx.sql, { kind: 'later', key: 'd1', dueAt: new Date(Date.now() - 10) }));
    // batchSize 1: a full batch makes runDue look again, but not at the job it just deferred.
    expect(await s.runDue()).toBe(1);
    expect(calls).toBe(1);
    expect(await tdb.query(`SELECT status, attempts, last_error FROM jobs.scheduled_jobs WHERE job_key = 'd1'`)).toEqual([
      { status: 'pending', attempts: 0, last_error: 'deferred: not yet' },
    ]);
  });

  it('survives a restart: jobs scheduled by one instance are run by a new one', async () => {
    const before = replica(1);
    await dbs[1]!.transaction((tx) => before.schedule(tx.sql, { kind: 'effect', key: 'after-restart', dueAt: new Date(Date.now() + 200) }));
    const after = replica(2);
    after.start();
    const deadline = Date.now() + 10_000;
    while ((await tdb.query('SELECT 1 FROM jobs.effects WHERE job_key = $1', ['after-restart'])).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await after.stop();
    expect(await tdb.query('SELECT fired_by FROM jobs.effects WHERE job_key = $1', ['after-restart'])).toEqual([{ fired_by: 'r2' }]);
  });
});
