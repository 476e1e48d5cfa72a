import { migrationSchema, quoteIdent } from '@provisio/persistence';
import { schedulerTablesSql } from '@provisio/scheduler';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The canonical person record grows lifecycle state (phase, pending start, inferred removal,
 * manager reference, stale-update watermark, next scheduled transition); plus the durable job
 * table, webhook replay protection, CSV mappings and snapshot staging with the mass-change hold.
 */
export class Lifecycle1765000000000 implements MigrationInterface {
  name = 'Lifecycle1765000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.persons
      ADD COLUMN manager_worker_id text,
      ADD COLUMN phase text NOT NULL DEFAULT 'active' CHECK (phase IN ('pre-hire', 'active', 'terminated')),
      ADD COLUMN start_kind text CHECK (start_kind IN ('JOINER', 'REHIRE')),
      ADD COLUMN joined boolean NOT NULL DEFAULT true,
      ADD COLUMN removal jsonb,
      ADD COLUMN source_ts bigint,
      ADD COLUMN source_seq bigint,
      ADD COLUMN next_transition_at timestamptz,
      ADD COLUMN last_event_at bigint`);
    // Walking-skeleton rows: every one was announced as a joiner; terminated ones are leavers.
    await q.query(`UPDATE ${s}.persons SET phase = 'terminated' WHERE attributes->>'status' = 'terminated'`);
    await q.query(`ALTER TABLE ${s}.persons ALTER COLUMN phase DROP DEFAULT, ALTER COLUMN joined DROP DEFAULT`);
    await q.query(`CREATE INDEX persons_pending_manager ON ${s}.persons (source, manager_worker_id) WHERE manager_worker_id IS NOT NULL AND attributes->>'managerPersonId' IS NULL`);
    await q.query(`CREATE INDEX persons_user_name ON ${s}.persons (source, lower(attributes->>'userName'))`);

    for (const sql of schedulerTablesSql(migrationSchema(q))) await q.query(sql);

    await q.query(`CREATE TABLE ${s}.webhook_deliveries (
      webhook_id text PRIMARY KEY,
      received_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX webhook_deliveries_received ON ${s}.webhook_deliveries (received_at)`);

    await q.query(`CREATE TABLE ${s}.csv_mappings (
      source text NOT NULL,
      name text NOT NULL,
      yaml text NOT NULL,
      updated_by text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (source, name)
    )`);

    await q.query(`CREATE TABLE ${s}.snapshots (
      id uuid PRIMARY KEY,
      source text NOT NULL,
      mode text NOT NULL CHECK (mode IN ('full', 'delta')),
      absent_workers text NOT NULL CHECK (absent_workers IN ('leaver', 'ignore')),
      mapping_name text NOT NULL,
      file_name text,
      as_of bigint,
      status text NOT NULL CHECK (status IN ('receiving', 'staged', 'held', 'applying', 'applied', 'discarded', 'superseded', 'failed')),
      rows_total int NOT NULL DEFAULT 0,
      rows_rejected int NOT NULL DEFAULT 0,
      rows_warned int NOT NULL DEFAULT 0,
      rows_terminating int NOT NULL DEFAULT 0,
      population int,
      leavers_planned int,
      brake jsonb,
      planned jsonb,
      events jsonb NOT NULL DEFAULT '{}'::jsonb,
      applied_through int NOT NULL DEFAULT 0,
      absentees_done boolean NOT NULL DEFAULT false,
      ignored_columns jsonb NOT NULL DEFAULT '[]'::jsonb,
      attempts int NOT NULL DEFAULT 0,
      error text,
      received_by text,
      decided_by text,
      lease_owner text,
      lease_until timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      staged_at timestamptz,
      planned_at timestamptz,
      finished_at timestamptz
    )`);
    await q.query(`CREATE INDEX snapshots_source ON ${s}.snapshots (source, created_at DESC)`);
    // Event counts per applied batch, written in the batch's transaction (no contention on the snapshot row).
    await q.query(`CREATE TABLE ${s}.snapshot_batches (
      snapshot_id uuid NOT NULL REFERENCES ${s}.snapshots (id) ON DELETE CASCADE,
      batch_id uuid NOT NULL,
      events jsonb NOT NULL,
      PRIMARY KEY (snapshot_id, batch_id)
    )`);
    await q.query(`CREATE INDEX snapshots_open ON ${s}.snapshots (created_at) WHERE status IN ('staged', 'applying')`);
    await q.query(`CREATE TABLE ${s}.snapshot_rows (
      snapshot_id uuid NOT NULL REFERENCES ${s}.snapshots (id) ON DELETE CASCADE,
      row_no int NOT NULL,
      line int NOT NULL,
      worker_id text,
      -- The normalized worker record as JSON text: written and read back whole, so no jsonb conversion either way.
      record text,
      rejection jsonb,
      warning jsonb,
      person_id uuid,
      planned_kind text,
      PRIMARY KEY (snapshot_id, row_no)
    )`);
    await q.query(`CREATE INDEX snapshot_rows_worker ON ${s}.snapshot_rows (snapshot_id, worker_id)`);
    await q.query(`CREATE INDEX snapshot_rows_planned ON ${s}.snapshot_rows (snapshot_id, row_no) WHERE planned_kind IS NOT NULL`);
    await q.query(`CREATE INDEX snapshot_rows_rejected ON ${s}.snapshot_rows (snapshot_id, row_no) WHERE rejection IS NOT NULL`);
    await q.query(`CREATE TABLE ${s}.snapshot_leavers (
      snapshot_id uuid NOT NULL REFERENCES ${s}.snapshots (id) ON DELETE CASCADE,
      person_id uuid NOT NULL,
      worker_id text NOT NULL,
      reason text NOT NULL,
      PRIMARY KEY (snapshot_id, person_id)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP TABLE ${s}.snapshot_batches, ${s}.snapshot_leavers, ${s}.snapshot_rows, ${s}.snapshots, ${s}.csv_mappings, ${s}.webhook_deliveries, ${s}.scheduled_jobs`);
    await q.query(`DROP INDEX ${s}.persons_pending_manager, ${s}.persons_user_name`);
    await q.query(`ALTER TABLE ${s}.persons DROP COLUMN manager_worker_id, DROP COLUMN phase, DROP COLUMN start_kind, DROP COLUMN joined, DROP COLUMN removal,
      DROP COLUMN source_ts, DROP COLUMN source_seq, DROP COLUMN next_transition_at, DROP COLUMN last_event_at`);
  }
}
