import { messagingTablesSql } from '@provisio/messaging';
import { migrationSchema } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1764000000000 implements MigrationInterface {
  name = 'Init1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    await q.query(`CREATE TABLE "${schema}".persons (
      person_id uuid PRIMARY KEY,
      source text NOT NULL,
      worker_id text NOT NULL,
      attributes jsonb NOT NULL,
      version bigint NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (source, worker_id)
    )`);
    for (const sql of messagingTablesSql(schema)) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    await q.query(`DROP TABLE "${schema}".persons, "${schema}".outbox, "${schema}".inbox`);
  }
}
