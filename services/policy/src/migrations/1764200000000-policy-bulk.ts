import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bulk paths of the policy engine:
 * - target_accounts kept the desired state twice (jsonb and an unread text copy): the copy doubled
 *   every state write and goes;
 * - persons and target_accounts are updated on every evaluation: free space per page lets
 *   PostgreSQL update rows in place (HOT) instead of touching every index;
 * - simulation changes are one row per person (all targets), written in one statement per page
 *   and paged by person, so a page never splits a person's changes (reports of simulations run
 *   before this version lose their per-person changes; summaries stay);
 * - policy_state remembers the time zone the population was evaluated in, so a change of
 *   POLICY_TIME_ZONE re-evaluates everyone.
 */
export class PolicyBulk1764200000000 implements MigrationInterface {
  name = 'PolicyBulk1764200000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.target_accounts DROP COLUMN desired_json`);
    await q.query(`ALTER TABLE ${s}.target_accounts SET (fillfactor = 80)`);
    await q.query(`ALTER TABLE ${s}.persons SET (fillfactor = 80)`);
    await q.query(`DROP TABLE ${s}.simulation_changes`);
    await q.query(`CREATE TABLE ${s}.simulation_changes (
       simulation_id uuid NOT NULL REFERENCES ${s}.simulations (id) ON DELETE CASCADE,
       person_id text NOT NULL,
       targets text[] NOT NULL,
       changes jsonb NOT NULL,
       PRIMARY KEY (simulation_id, person_id)
     )`);
    await q.query(`ALTER TABLE ${s}.policy_state ADD COLUMN time_zone text`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.policy_state DROP COLUMN time_zone`);
    await q.query(`DROP TABLE ${s}.simulation_changes`);
    await q.query(`CREATE TABLE ${s}.simulation_changes (
       simulation_id uuid NOT NULL REFERENCES ${s}.simulations (id) ON DELETE CASCADE,
       person_id text NOT NULL,
       target text NOT NULL,
       change jsonb NOT NULL,
       PRIMARY KEY (simulation_id, person_id, target)
     )`);
    await q.query(`ALTER TABLE ${s}.persons RESET (fillfactor)`);
    await q.query(`ALTER TABLE ${s}.target_accounts RESET (fillfactor)`);
    await q.query(`ALTER TABLE ${s}.target_accounts ADD COLUMN desired_json text NOT NULL DEFAULT ''`);
  }
}
