import { counter } from '@provisio/observability';
import { quoteIdent, type Database, type SqlClient, type Tx } from '@provisio/persistence';
import type { Logger } from 'pino';

export interface ScheduledJob<P = unknown> {
  id: string;
  kind: string;
  key: string;
  dueAt: Date;
  payload: P;
  attempts: number;
}

/** `now`: the instant the pass runs jobs for (what runDue was given; the clock in production). */
export type JobHandler<P = unknown> = (job: ScheduledJob<P>, tx: Tx, pass: { now: Date }) => Promise<void>;

/**
 * Thrown by a handler that cannot run its job yet (e.g. a row it needs is locked): the job's effects
 * roll back and it runs again on a later pass, with the same due time and without using up an
 * attempt. PostgreSQL's lock_not_available (55P03, from `FOR UPDATE NOWAIT` or a lock_timeout) is
 * treated the same way.
 */
export class JobDeferred extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobDeferred';
  }
}

function isDeferral(e: unknown): boolean {
  return e instanceof JobDeferred || (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '55P03');
}

export interface JobSchedulerOptions {
  db: Database;
  schema: string;
  logger: Logger;
  pollIntervalMs?: number;
  batchSize?: number;
  /** Attempts before a job is marked failed (it stays in the table with its last error). */
  maxAttempts?: number;
}

interface Row {
  id: string;
  kind: string;
  job_key: string;
  due_at: Date;
  /** Exact (microsecond) due time, to tell whether a handler rescheduled its own job. */
  due_at_exact?: string;
  payload: unknown;
  attempts: number;
}

const fired = counter('provisio_scheduled_jobs_total', 'Scheduled jobs run, by kind and outcome', ['kind', 'outcome']);

/**
 * Durable time-based work (effective-dated leavers, grace periods, retention deletes, expiries).
 *
 * A job runs inside the same transaction that marks it done, so its database effects — including
 * outbox rows — commit exactly once; `FOR UPDATE SKIP LOCKED` lets several replicas share the
 * table without running a job twice, and a crash rolls the job back for a later pass. Jobs
 * survive restarts because they live in PostgreSQL. Rescheduling a (kind, key) replaces its
 * pending job — also from inside that job's own handler (the next occurrence stays pending).
 * A failing job is retried with exponential backoff (its due time moves) and marked failed after
 * `maxAttempts`; a deferred one (JobDeferred, lock contention) keeps its due time and attempts and
 * runs again on the next pass.
 */
export class JobScheduler {
  private readonly table: string;
  private readonly handlers = new Map<string, JobHandler>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly o: JobSchedulerOptions) {
    this.table = `${quoteIdent(o.schema)}.scheduled_jobs`;
  }

  register<P>(kind: string, handler: JobHandler<P>): void {
    this.handlers.set(kind, handler as JobHandler);
  }

  /** Schedules (or reschedules) a job in the caller's transaction. */
  async schedule(sql: SqlClient, job: { kind: string; key: string; dueAt: Date; payload?: unknown }): Promise<void> {
    await sql.query(
      `INSERT INTO ${this.table} (kind, job_key, due_at, payload) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, job_key) WHERE status = 'pending' DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, attempts = 0, last_error = NULL`,
      [job.kind, job.key, job.dueAt, JSON.stringify(job.payload ?? {})],
    );
  }

  /**
   * Schedules (or reschedules) several jobs in one statement, for callers that handle many
   * aggregates per transaction. Of duplicate (kind, key) pairs the last one wins.
   */
  async scheduleMany(sql: SqlClient, jobs: { kind: string; key: string; dueAt: Date; payload?: unknown }[]): Promise<void> {
    const unique = [...new Map(jobs.map((j) => [`${j.kind}\u0000${j.key}`, j])).values()];
    if (unique.length === 0) return;
    await sql.query(
      `INSERT INTO ${this.table} (kind, job_key, due_at, payload)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[])
       ON CONFLICT (kind, job_key) WHERE status = 'pending' DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, attempts = 0, last_error = NULL`,
      [unique.map((j) => j.kind), unique.map((j) => j.key), unique.map((j) => j.dueAt), unique.map((j) => JSON.stringify(j.payload ?? {}))],
    );
  }

  /** Cancels the pending jobs of one kind with these keys; returns how many there were. */
  async cancelMany(sql: SqlClient, kind: string, keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const r = await sql.query(`UPDATE ${this.table} SET status = 'cancelled', done_at = now() WHERE kind = $1 AND job_key = ANY($2::text[]) AND status = 'pending'`, [kind, keys]);
    return r.rowCount ?? 0;
  }

  /** Cancels a pending job; true when there was one. */
  async cancel(sql: SqlClient, kind: string, key: string): Promise<boolean> {
    const r = await sql.query(`UPDATE ${this.table} SET status = 'cancelled', done_at = now() WHERE kind = $1 AND job_key = $2 AND status = 'pending'`, [kind, key]);
    return (r.rowCount ?? 0) > 0;
  }

  async pending(sql: SqlClient, filter: { kind?: string; keyPrefix?: string } = {}): Promise<ScheduledJob[]> {
    const r = await sql.query<Row>(
      `SELECT id, kind, job_key, due_at, payload, attempts FROM ${this.table}
       WHERE status = 'pending' AND ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR job_key LIKE $2 || '%') ORDER BY due_at, id`,
      [filter.kind ?? null, filter.keyPrefix ?? null],
    );
    return r.rows.map(toJob);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Runs every job due at `now` (tests, and each polling pass). Returns how many ran. */
  async runDue(now: Date = new Date()): Promise<number> {
    let total = 0;
    // Jobs deferred in this pass wait for the next one (no busy loop on a held lock).
    const deferred: string[] = [];
    for (;;) {
      const n = await this.runBatch(now, deferred);
      total += n;
      if (n < (this.o.batchSize ?? 100)) return total;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.runDue();
      } catch (e) {
        this.o.logger.warn({ err: e }, 'scheduler pass failed; will retry');
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.pollIntervalMs ?? 1000);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private async runBatch(now: Date, deferred: string[]): Promise<number> {
    return this.o.db.transaction(async (tx) => {
      const { rows } = await tx.sql.query<Row>(
        `SELECT id, kind, job_key, due_at, due_at::text AS due_at_exact, payload, attempts FROM ${this.table}
         WHERE status = 'pending' AND due_at <= $1 AND id <> ALL($3::bigint[]) ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [now, this.o.batchSize ?? 100, deferred],
      );
      for (const row of rows) {
        const job = toJob(row);
        const handler = this.handlers.get(job.kind);
        await tx.sql.query('SAVEPOINT job');
        try {
          if (!handler) throw new Error(`no handler registered for job kind ${job.kind}`);
          await handler(job, tx, { now });
          // A handler that rescheduled its own (kind, key) moved the due time: the job stays pending.
          const done = await tx.sql.query(`UPDATE ${this.table} SET status = 'done', done_at = now(), attempts = attempts + 1 WHERE id = $1 AND due_at = $2::timestamptz`, [
            job.id,
            row.due_at_exact ?? row.due_at,
          ]);
          await tx.sql.query('RELEASE SAVEPOINT job');
          fired.inc({ kind: job.kind, outcome: done.rowCount === 1 ? 'done' : 'rescheduled' });
        } catch (e) {
          await tx.sql.query('ROLLBACK TO SAVEPOINT job');
          if (isDeferral(e)) {
            // Not a failure: same due time, same attempts; the next pass runs it again.
            deferred.push(job.id);
            await tx.sql.query(`UPDATE ${this.table} SET last_error = $2 WHERE id = $1`, [job.id, `deferred: ${String((e as Error).message).slice(0, 990)}`]);
            fired.inc({ kind: job.kind, outcome: 'deferred' });
            this.o.logger.debug({ kind: job.kind, jobId: job.id }, 'scheduled job deferred to the next pass');
            continue;
          }
          const attempts = job.attempts + 1;
          const failed = attempts >= (this.o.maxAttempts ?? 10);
          const backoffSec = Math.min(3600, 2 ** attempts);
          await tx.sql.query(
            `UPDATE ${this.table} SET attempts = $2, last_error = $3, status = $4, due_at = CASE WHEN $4 = 'pending' THEN now() + make_interval(secs => $5) ELSE due_at END WHERE id = $1`,
            [job.id, attempts, String((e as Error).message).slice(0, 1000), failed ? 'failed' : 'pending', backoffSec],
          );
          fired.inc({ kind: job.kind, outcome: failed ? 'failed' : 'retry' });
          this.o.logger.warn({ err: e, kind: job.kind, jobId: job.id, attempts }, failed ? 'scheduled job failed for good' : 'scheduled job failed; will retry');
        }
      }
      return rows.length;
    });
  }
}

function toJob(r: Row): ScheduledJob {
  return { id: r.id, kind: r.kind, key: r.job_key, dueAt: r.due_at, payload: r.payload, attempts: r.attempts };
}
