import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Out-of-order input: each person keeps, per attribute, the source stamp (time and/or sequence)
 * of the record that set it, so an older record never overwrites a newer value while its other
 * attributes still apply. Existing rows start without stamps (their values count as unordered).
 */
export class AttributeStamps1766000000000 implements MigrationInterface {
  name = 'AttributeStamps1766000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.persons ADD COLUMN stamps jsonb NOT NULL DEFAULT '{}'::jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`ALTER TABLE ${s}.persons DROP COLUMN stamps`);
  }
}
