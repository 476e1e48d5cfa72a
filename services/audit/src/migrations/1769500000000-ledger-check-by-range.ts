import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { perRowLedgerCheck } from './1769000000000-ledger-needs-records.js';

/**
 * The ledger check of LedgerNeedsRecords1769000000000, cheap however many months are kept. Its
 * per-row `EXISTS` on `records` could not be pruned to one partition (positions are not the
 * partition key), so every ledger row probed the position index of every monthly partition:
 * ~50 µs per row with 84 months kept, inside the chain lock. Now the records of the statement's
 * position range are read once (one index range scan per partition; the old months answer with
 * nothing) and matched to the ledger rows by a hash join. Same rule, same error.
 */
export class LedgerCheckByRange1769500000000 implements MigrationInterface {
  name = 'LedgerCheckByRange1769500000000';

  async up(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`CREATE OR REPLACE FUNCTION ${s}.ledger_rows_need_records() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        bad record;
        lo bigint;
        hi bigint;
        rows bigint;
        matched bigint;
      BEGIN
        SELECT min(seq), max(seq), count(*) INTO lo, hi, rows FROM new_positions;
        IF rows = 0 THEN
          RETURN NULL;
        END IF;
        WITH r AS MATERIALIZED (
          SELECT seq, topic, kafka_partition, kafka_offset FROM ${s}.records WHERE seq BETWEEN lo AND hi
        )
        SELECT count(*) INTO matched FROM new_positions n
         WHERE EXISTS (SELECT 1 FROM r WHERE r.seq = n.seq AND r.topic = n.topic AND r.kafka_partition = n.kafka_partition AND r.kafka_offset = n.kafka_offset);
        IF matched = rows THEN
          RETURN NULL;
        END IF;
        SELECT n.seq, n.topic, n.kafka_partition, n.kafka_offset INTO bad FROM new_positions n
         WHERE NOT EXISTS (SELECT 1 FROM ${s}.records r
                            WHERE r.seq = n.seq AND r.topic = n.topic AND r.kafka_partition = n.kafka_partition AND r.kafka_offset = n.kafka_offset)
         ORDER BY n.seq LIMIT 1;
        RAISE EXCEPTION 'audit position ledger: position % (%/%/%) names no record written before it', bad.seq, bad.topic, bad.kafka_partition, bad.kafka_offset
          USING ERRCODE = 'foreign_key_violation';
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`CREATE OR REPLACE FUNCTION ${s}.ledger_rows_need_records() RETURNS trigger LANGUAGE plpgsql AS ${perRowLedgerCheck(s)}`);
  }
}
