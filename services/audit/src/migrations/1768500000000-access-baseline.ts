import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What retention carries forward so "who has access" survives the records it drops: each
 * account's last applied state (`access_baseline`) and the commands still waiting for their result
 * (`carried_commands`). Written only by the owner inside retention's transaction; the runtime role
 * reads them (granted in audit-privileges). The sealed account name is copied as stored, so
 * crypto-shredding a person's key covers these rows too.
 */
export class AccessBaseline1768500000000 implements MigrationInterface {
  name = 'AccessBaseline1768500000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`CREATE TABLE ${s}.access_baseline (
      anchor_seq bigint NOT NULL,
      person_id text NOT NULL,
      target text NOT NULL,
      state text NOT NULL,
      groups text[] NOT NULL,
      applied_at bigint NOT NULL,
      version bigint NOT NULL,
      command_id text NOT NULL,
      result_id text NOT NULL,
      result_seq bigint NOT NULL,
      active_since bigint,
      group_since jsonb NOT NULL,
      key_id uuid,
      account jsonb,
      pii bytea,
      topic text NOT NULL,
      kafka_partition integer NOT NULL,
      kafka_offset bigint NOT NULL,
      PRIMARY KEY (target, person_id)
    )`);
    await q.query(`CREATE TABLE ${s}.carried_commands (
      command_id text PRIMARY KEY,
      anchor_seq bigint NOT NULL,
      person_id text,
      target text,
      state text NOT NULL,
      groups text[] NOT NULL,
      version bigint NOT NULL,
      key_id uuid,
      account jsonb,
      pii bytea,
      topic text NOT NULL,
      kafka_partition integer NOT NULL,
      kafka_offset bigint NOT NULL
    )`);
    await q.query(`REVOKE ALL ON ${s}.access_baseline, ${s}.carried_commands FROM PUBLIC`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP TABLE ${s}.carried_commands`);
    await q.query(`DROP TABLE ${s}.access_baseline`);
  }
}
