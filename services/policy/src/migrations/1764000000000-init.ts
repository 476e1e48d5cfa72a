import { messagingTablesSql } from '@provisio/messaging';
import { migrationSchema } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1764000000000 implements MigrationInterface {
  name = 'Init1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    await q.query(`CREATE TABLE "${schema}".target_accounts (
      person_id text NOT NULL,
      target text NOT NULL,
      target_kind text NOT NULL,
      version bigint NOT NULL,
      desired jsonb NOT NULL,
      desired_json text NOT NULL,
      applied_version bigint,
      last_status text,
      last_error text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (person_id, target)
    )`);
    for (const sql of messagingTablesSql(schema)) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    await q.query(`DROP TABLE "${schema}".target_accounts, "${schema}".outbox, "${schema}".inbox`);
  }
}
