import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The first version of the check's body (per-row lookup); LedgerCheckByRange1769500000000 restores it on the way down. */
export function perRowLedgerCheck(s: string): string {
  return `$$
      DECLARE
        bad record;
      BEGIN
        SELECT n.seq, n.topic, n.kafka_partition, n.kafka_offset INTO bad FROM new_positions n
         WHERE NOT EXISTS (SELECT 1 FROM ${s}.records r
                            WHERE r.seq = n.seq AND r.topic = n.topic AND r.kafka_partition = n.kafka_partition AND r.kafka_offset = n.kafka_offset)
         LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'audit position ledger: position % (%/%/%) names no record written before it', bad.seq, bad.topic, bad.kafka_partition, bad.kafka_offset
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
      END $$`;
}

/**
 * The position ledger accepts a row only for a record that exists at that position with the same
 * topic/partition/offset, written before it in the same transaction (the append path copies the
 * records first, then the ledger). The runtime role may INSERT into `record_positions`; without
 * this, one row of its own with a huge position made verification report a truncated tail
 * forever, and one at the head's next position made every later append fail on the ledger's
 * unique position. Checked once per statement (the ledger COPY) against the transition table.
 */
export class LedgerNeedsRecords1769000000000 implements MigrationInterface {
  name = 'LedgerNeedsRecords1769000000000';

  async up(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    const s = quoteIdent(schema);
    await q.query(`CREATE FUNCTION ${s}.ledger_rows_need_records() RETURNS trigger LANGUAGE plpgsql AS ${perRowLedgerCheck(s)}`);
    await q.query(`CREATE TRIGGER record_positions_need_records AFTER INSERT ON ${s}.record_positions
      REFERENCING NEW TABLE AS new_positions FOR EACH STATEMENT EXECUTE FUNCTION ${s}.ledger_rows_need_records()`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP TRIGGER record_positions_need_records ON ${s}.record_positions`);
    await q.query(`DROP FUNCTION ${s}.ledger_rows_need_records()`);
  }
}
