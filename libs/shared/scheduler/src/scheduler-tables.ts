import { quoteIdent } from '@provisio/persistence';

/** DDL of the durable job table, for a service's migration. */
export function schedulerTablesSql(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.scheduled_jobs (
       id bigserial PRIMARY KEY,
       kind text NOT NULL,
       job_key text NOT NULL,
       due_at timestamptz NOT NULL,
       payload jsonb NOT NULL DEFAULT '{}'::jsonb,
       status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled', 'failed')),
       attempts int NOT NULL DEFAULT 0,
       last_error text,
       created_at timestamptz NOT NULL DEFAULT now(),
       done_at timestamptz
     )`,
    // One pending job per (kind, key): rescheduling replaces it.
    `CREATE UNIQUE INDEX IF NOT EXISTS scheduled_jobs_pending_key ON ${s}.scheduled_jobs (kind, job_key) WHERE status = 'pending'`,
    `CREATE INDEX IF NOT EXISTS scheduled_jobs_due ON ${s}.scheduled_jobs (due_at) WHERE status = 'pending'`,
  ];
}
