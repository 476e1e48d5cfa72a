import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * - The position ledger accepts only real chain positions (`seq > 0`): rows the runtime role
 *   could add there never sit below the chain.
 * - `action_offsets`: offsets of audit's own actions (crypto-shredding, replays), which are
 *   appended to the chain as records of the pseudo-topic `audit.actions`.
 */
export class LedgerGuard1767000000000 implements MigrationInterface {
  name = 'LedgerGuard1767000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.record_positions ADD CONSTRAINT record_positions_seq_positive CHECK (seq > 0)`);
    await q.query(`CREATE SEQUENCE ${s}.action_offsets AS bigint MINVALUE 0 START 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP SEQUENCE ${s}.action_offsets`);
    await q.query(`ALTER TABLE ${s}.record_positions DROP CONSTRAINT record_positions_seq_positive`);
  }
}
