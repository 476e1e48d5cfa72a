import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook replay protection per source: a delivery id is unique for the source the delivery is
 * about (whose secret signed it), not across every sender, so two HR systems that happen to use
 * the same id no longer refuse each other's changes. Ids recorded before carry source '' — they
 * are past the timestamp tolerance minutes after the upgrade and are pruned as before.
 */
export class WebhookReplayPerSource1769000000000 implements MigrationInterface {
  name = 'WebhookReplayPerSource1769000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.webhook_deliveries ADD COLUMN source text NOT NULL DEFAULT ''`);
    await q.query(`ALTER TABLE ${s}.webhook_deliveries ALTER COLUMN source DROP DEFAULT`);
    await q.query(`ALTER TABLE ${s}.webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, ADD PRIMARY KEY (source, webhook_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DELETE FROM ${s}.webhook_deliveries d USING ${s}.webhook_deliveries o WHERE d.webhook_id = o.webhook_id AND d.source > o.source`);
    await q.query(`ALTER TABLE ${s}.webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, ADD PRIMARY KEY (webhook_id)`);
    await q.query(`ALTER TABLE ${s}.webhook_deliveries DROP COLUMN source`);
  }
}
