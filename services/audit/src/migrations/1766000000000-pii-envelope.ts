import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * - `records.pii`: one PII envelope per record (AES-GCM of the personal fields' values), which
 *   the `{"$pii": i}` markers in `payload_json` point into. Records of the first format (one
 *   ciphertext per field) keep `pii` null and verify as before.
 * - A BRIN index on `recorded_at` (increasing along the chain): exports by recording time find
 *   their positions without a btree maintained on every append.
 * - `key_generation`: bumped by every crypto-shredding in the same statement; replicas compare it
 *   before using cached person keys, so a shred takes effect on all of them at once.
 */
export class PiiEnvelope1766000000000 implements MigrationInterface {
  name = 'PiiEnvelope1766000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.records ADD COLUMN pii bytea`);
    await q.query(`CREATE INDEX records_recorded_brin ON ${s}.records USING brin (recorded_at)`);
    await q.query(`CREATE TABLE ${s}.key_generation (id boolean PRIMARY KEY DEFAULT true CHECK (id), generation bigint NOT NULL DEFAULT 0)`);
    await q.query(`INSERT INTO ${s}.key_generation DEFAULT VALUES`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP TABLE ${s}.key_generation`);
    await q.query(`DROP INDEX ${s}.records_recorded_brin`);
    await q.query(`ALTER TABLE ${s}.records DROP COLUMN pii`);
  }
}
