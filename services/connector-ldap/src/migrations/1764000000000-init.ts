import { connectorTablesSql } from '@provisio/connector-kit';
import { messagingTablesSql } from '@provisio/messaging';
import { migrationSchema } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1764000000000 implements MigrationInterface {
  name = 'Init1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    for (const sql of [...messagingTablesSql(schema), ...connectorTablesSql(schema)]) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    await q.query(`DROP TABLE "${schema}".applied_versions, "${schema}".outbox, "${schema}".inbox`);
  }
}
