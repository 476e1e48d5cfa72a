import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A rejected snapshot row still says its worker is in the file. Rows whose worker id is not
 * certain (a cell count that differs from the header, an unreadable id cell) keep the ids they
 * may stand for; an empty list marks a row nobody can be identified by.
 */
export class SnapshotPresentIds1767000000000 implements MigrationInterface {
  name = 'SnapshotPresentIds1767000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.snapshot_rows ADD COLUMN present_ids text[]`);
    await q.query(`CREATE INDEX snapshot_rows_uncertain ON ${s}.snapshot_rows (snapshot_id) WHERE present_ids IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP INDEX ${s}.snapshot_rows_uncertain`);
    await q.query(`ALTER TABLE ${s}.snapshot_rows DROP COLUMN present_ids`);
  }
}
