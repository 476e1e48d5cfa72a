import { connectorTablesV2DownSql, connectorTablesV2Sql } from '@provisio/connector-kit';
import { migrationSchema } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ConnectorKitV21765000000000 implements MigrationInterface {
  name = 'ConnectorKitV21765000000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of connectorTablesV2Sql(migrationSchema(q))) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of connectorTablesV2DownSql(migrationSchema(q))) await q.query(sql);
  }
}
