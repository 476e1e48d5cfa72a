import { connectorTablesV3DownSql, connectorTablesV3Sql } from '@provisio/connector-kit';
import { migrationSchema } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The kit's parked commands (commands waiting for a quarantined target). */
export class ConnectorKitV31766000000000 implements MigrationInterface {
  name = 'ConnectorKitV31766000000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of connectorTablesV3Sql(migrationSchema(q))) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of connectorTablesV3DownSql(migrationSchema(q))) await q.query(sql);
  }
}
