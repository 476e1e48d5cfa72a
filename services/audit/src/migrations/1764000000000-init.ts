import { messagingTablesSql } from '@provisio/messaging';
import { migrationSchema } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1764000000000 implements MigrationInterface {
  name = 'Init1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    await q.query(`CREATE TABLE "${schema}".records (
      id bigserial PRIMARY KEY,
      topic text NOT NULL,
      kafka_partition int NOT NULL,
      kafka_offset bigint NOT NULL,
      record_key text,
      headers jsonb NOT NULL,
      payload bytea,
      payload_json jsonb,
      ce_id text,
      ce_type text,
      ce_time timestamptz,
      trace_id text,
      kafka_timestamp timestamptz NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (topic, kafka_partition, kafka_offset)
    )`);
    await q.query(`CREATE INDEX records_key_idx ON "${schema}".records (record_key, id)`);
    for (const sql of messagingTablesSql(schema)) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    await q.query(`DROP TABLE "${schema}".records, "${schema}".outbox, "${schema}".inbox`);
  }
}
