import { migrationSchema, quoteIdent } from '@provisio/persistence';
import { schedulerTablesSql } from '@provisio/scheduler';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The policy engine's state: versions, persons, allocations, assignments, SoD, simulations, jobs. */
export class PolicyEngine1764100000000 implements MigrationInterface {
  name = 'PolicyEngine1764100000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    const statements = [
      `CREATE TABLE ${s}.policy_versions (
         version bigint PRIMARY KEY,
         name text NOT NULL,
         files jsonb NOT NULL,
         content_hash text NOT NULL,
         source text NOT NULL CHECK (source IN ('file', 'api')),
         comment text,
         created_by text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE ${s}.policy_activations (
         id bigserial PRIMARY KEY,
         version bigint NOT NULL REFERENCES ${s}.policy_versions (version),
         kind text NOT NULL CHECK (kind IN ('file', 'activate', 'rollback')),
         activated_by text NOT NULL,
         reason text,
         persons_total bigint NOT NULL DEFAULT 0,
         activated_at timestamptz NOT NULL DEFAULT now(),
         reevaluated_at timestamptz
       )`,
      // One row: the active version (read in every person transaction, so replicas agree).
      `CREATE TABLE ${s}.policy_state (
         id boolean PRIMARY KEY DEFAULT true CHECK (id),
         active_version bigint REFERENCES ${s}.policy_versions (version),
         file_hash text
       )`,
      `INSERT INTO ${s}.policy_state (id) VALUES (true)`,
      `CREATE TABLE ${s}.persons (
         person_id text PRIMARY KEY,
         attributes jsonb NOT NULL,
         start_at timestamptz,
         terminated_at timestamptz,
         last_kind text,
         last_recorded_at timestamptz,
         held_roles text[] NOT NULL DEFAULT '{}',
         evaluated_version bigint NOT NULL DEFAULT 0,
         next_evaluation_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE INDEX persons_evaluated_version ON ${s}.persons (evaluated_version, person_id)`,
      `ALTER TABLE ${s}.target_accounts
         ADD COLUMN retained jsonb NOT NULL DEFAULT '{}'::jsonb,
         ADD COLUMN lost_at timestamptz,
         ADD COLUMN policy_version bigint,
         ADD COLUMN last_command_id text,
         ADD COLUMN last_result_at timestamptz`,
      `CREATE TABLE ${s}.allocations (
         namespace text NOT NULL,
         value text NOT NULL,
         person_id text NOT NULL,
         allocated_at timestamptz NOT NULL DEFAULT now(),
         UNIQUE (namespace, person_id)
       )`,
      // Unique values compare case-insensitively (jdoe and JDoe are the same login).
      `CREATE UNIQUE INDEX allocations_value ON ${s}.allocations (namespace, lower(value))`,
      `CREATE INDEX allocations_person ON ${s}.allocations (person_id)`,
      `CREATE TABLE ${s}.manual_assignments (
         id uuid PRIMARY KEY,
         person_id text NOT NULL,
         role text,
         target text,
         group_name text,
         reason text NOT NULL,
         expires_at timestamptz,
         status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'expired')),
         created_by text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         ended_by text,
         ended_reason text,
         ended_at timestamptz,
         CHECK ((role IS NULL) <> (target IS NULL))
       )`,
      `CREATE INDEX manual_assignments_person ON ${s}.manual_assignments (person_id) WHERE status = 'active'`,
      `CREATE TABLE ${s}.sod_exceptions (
         id uuid PRIMARY KEY,
         person_id text NOT NULL,
         rule_id text NOT NULL,
         approver text NOT NULL,
         reason text NOT NULL,
         expires_at timestamptz NOT NULL,
         status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'expired')),
         created_by text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         ended_by text,
         ended_reason text,
         ended_at timestamptz
       )`,
      `CREATE INDEX sod_exceptions_person ON ${s}.sod_exceptions (person_id) WHERE status = 'active'`,
      `CREATE TABLE ${s}.sod_violations (
         person_id text NOT NULL,
         rule_id text NOT NULL,
         status text NOT NULL,
         mode text NOT NULL,
         conflicting text[] NOT NULL,
         dropped text[] NOT NULL,
         exception_id text,
         policy_version bigint NOT NULL,
         detected_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (person_id, rule_id)
       )`,
      `CREATE TABLE ${s}.simulations (
         id uuid PRIMARY KEY,
         status text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
         base_version bigint,
         candidate jsonb NOT NULL,
         candidate_hash text NOT NULL,
         persons_total bigint NOT NULL DEFAULT 0,
         persons_done bigint NOT NULL DEFAULT 0,
         summary jsonb,
         error text,
         created_by text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         finished_at timestamptz
       )`,
      `CREATE TABLE ${s}.simulation_changes (
         simulation_id uuid NOT NULL REFERENCES ${s}.simulations (id) ON DELETE CASCADE,
         person_id text NOT NULL,
         target text NOT NULL,
         change jsonb NOT NULL,
         PRIMARY KEY (simulation_id, person_id, target)
       )`,
      ...schedulerTablesSql(migrationSchema(q)),
    ];
    for (const sql of statements) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP TABLE ${s}.simulation_changes, ${s}.simulations, ${s}.sod_violations, ${s}.sod_exceptions, ${s}.manual_assignments, ${s}.allocations, ${s}.persons,
      ${s}.policy_state, ${s}.policy_activations, ${s}.policy_versions, ${s}.scheduled_jobs`);
    await q.query(
      `ALTER TABLE ${s}.target_accounts DROP COLUMN retained, DROP COLUMN lost_at, DROP COLUMN policy_version, DROP COLUMN last_command_id, DROP COLUMN last_result_at`,
    );
  }
}
