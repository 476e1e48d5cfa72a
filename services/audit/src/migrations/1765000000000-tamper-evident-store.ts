import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The append-only, hash-chained store (replaces the walking skeleton's `records` table, which
 * never held released data). Runs as the schema owner; the service's runtime role only gets
 * INSERT and SELECT (see audit-privileges.ts).
 *
 * - `records` is partitioned by month of `recorded_at`; partitions are created by
 *   `ensure_record_partitions()` (SECURITY DEFINER, so the runtime role needs no DDL rights) and
 *   dropped only by retention, which runs as the owner.
 * - `record_positions` enforces one row per Kafka record (topic, partition, offset) and one
 *   record per chain position across all partitions (a partitioned table's unique keys must
 *   include the partition key, so this cannot live on `records`).
 * - Triggers reject UPDATE, DELETE and TRUNCATE on every audit table, whoever asks.
 */
export class TamperEvidentStore1765000000000 implements MigrationInterface {
  name = 'TamperEvidentStore1765000000000';

  async up(q: QueryRunner): Promise<void> {
    const schema = migrationSchema(q);
    const s = quoteIdent(schema);
    const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
    await q.query(`DROP TABLE IF EXISTS ${s}.records`);
    await q.query(`CREATE TABLE ${s}.chain_meta (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      chain_id uuid NOT NULL DEFAULT gen_random_uuid(),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`INSERT INTO ${s}.chain_meta DEFAULT VALUES`);
    await q.query(`CREATE TABLE ${s}.records (
      seq bigint NOT NULL,
      recorded_at timestamptz NOT NULL,
      topic text NOT NULL,
      kafka_partition int NOT NULL,
      kafka_offset bigint NOT NULL,
      record_key text,
      kafka_timestamp timestamptz NOT NULL,
      headers jsonb NOT NULL,
      payload bytea,
      key_id uuid,
      payload_json jsonb,
      schema_name text,
      schema_version int,
      schema_fingerprint text,
      decode_error text,
      ce_id text,
      ce_type text,
      ce_source text,
      trace_id text,
      person_id text,
      entity_id text,
      cause_ids text[] NOT NULL,
      event_time timestamptz NOT NULL,
      target text,
      target_kind text,
      outcome text,
      dead_letter_of text,
      prev_hash bytea NOT NULL,
      hash bytea NOT NULL
    ) PARTITION BY RANGE (recorded_at)`);
    await q.query(`CREATE INDEX records_seq_idx ON ${s}.records (seq)`);
    await q.query(`CREATE INDEX records_person_idx ON ${s}.records (person_id, event_time)`);
    await q.query(`CREATE INDEX records_time_idx ON ${s}.records (event_time, seq)`);
    await q.query(`CREATE INDEX records_entity_idx ON ${s}.records (entity_id) WHERE entity_id IS NOT NULL`);
    await q.query(`CREATE INDEX records_target_idx ON ${s}.records (target, schema_name, event_time) WHERE target IS NOT NULL`);
    await q.query(`CREATE INDEX records_failures_idx ON ${s}.records (event_time, seq) WHERE dead_letter_of IS NOT NULL OR outcome = 'FAILED'`);
    await q.query(`CREATE TABLE ${s}.record_positions (
      topic text NOT NULL,
      kafka_partition int NOT NULL,
      kafka_offset bigint NOT NULL,
      seq bigint NOT NULL UNIQUE,
      PRIMARY KEY (topic, kafka_partition, kafka_offset)
    )`);
    await q.query(`CREATE TABLE ${s}.checkpoints (
      id bigserial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('periodic', 'anchor')),
      seq bigint NOT NULL,
      hash bytea NOT NULL,
      key_id text NOT NULL,
      statement text NOT NULL,
      signature text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX checkpoints_seq_idx ON ${s}.checkpoints (seq)`);
    await q.query(`CREATE TABLE ${s}.person_keys (
      key_id uuid PRIMARY KEY,
      person_id text NOT NULL,
      wrapped_key bytea,
      kek_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      shredded_at timestamptz,
      shredded_by text
    )`);
    await q.query(`CREATE UNIQUE INDEX person_keys_active_idx ON ${s}.person_keys (person_id) WHERE shredded_at IS NULL`);
    await q.query(`CREATE TABLE ${s}.feed_cursors (feed text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE ${s}.replays (
      id bigserial PRIMARY KEY,
      seq bigint NOT NULL,
      topic text NOT NULL,
      replayed_by text NOT NULL,
      reason text,
      replayed_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX replays_seq_idx ON ${s}.replays (seq)`);

    await q.query(`CREATE FUNCTION ${s}.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit table %.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    // Retention (run as the owner, who alone has DELETE on it) may forget positions of dropped partitions.
    await q.query(`CREATE FUNCTION ${s}.reject_change_unless_retention() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('provisio.audit_retention', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit table %.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    for (const table of ['records', 'checkpoints', 'replays', 'chain_meta']) {
      await q.query(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${s}.${table} FOR EACH ROW EXECUTE FUNCTION ${s}.reject_change()`);
      await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${s}.${table} FOR EACH STATEMENT EXECUTE FUNCTION ${s}.reject_change()`);
    }
    await q.query(`CREATE TRIGGER record_positions_append_only BEFORE UPDATE OR DELETE ON ${s}.record_positions FOR EACH ROW EXECUTE FUNCTION ${s}.reject_change_unless_retention()`);
    await q.query(`CREATE TRIGGER record_positions_no_truncate BEFORE TRUNCATE ON ${s}.record_positions FOR EACH STATEMENT EXECUTE FUNCTION ${s}.reject_change()`);

    // Monthly partitions on demand. SECURITY DEFINER: the runtime role may call it, but can only
    // create the partitions of the months around now, never drop or alter anything.
    await q.query(`CREATE FUNCTION ${s}.ensure_record_partitions(p_at timestamptz) RETURNS int
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET timezone = 'UTC' AS $$
      DECLARE
        m timestamptz;
        part text;
        created int := 0;
      BEGIN
        IF p_at < now() - interval '40 days' OR p_at > now() + interval '40 days' THEN
          RAISE EXCEPTION 'partitions are created only for months around now, not for %', p_at USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR i IN 0..1 LOOP
          m := date_trunc('month', p_at) + make_interval(months => i);
          part := 'records_p' || to_char(m, 'YYYYMM');
          IF to_regclass(format('%I.%I', ${lit(schema)}, part)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.records FOR VALUES FROM (%L) TO (%L)',
              ${lit(schema)}, part, ${lit(schema)}, m, m + interval '1 month');
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION %I.reject_change()',
              part || '_no_truncate', ${lit(schema)}, part, ${lit(schema)});
            EXECUTE format('REVOKE ALL ON %I.%I FROM PUBLIC', ${lit(schema)}, part);
            created := created + 1;
          END IF;
        END LOOP;
        RETURN created;
      END $$`);
    await q.query(`REVOKE ALL ON FUNCTION ${s}.ensure_record_partitions(timestamptz) FROM PUBLIC`);
    await q.query(`SELECT ${s}.ensure_record_partitions(now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = quoteIdent(migrationSchema(q));
    await q.query(`DROP TABLE ${s}.records, ${s}.record_positions, ${s}.checkpoints, ${s}.person_keys, ${s}.feed_cursors, ${s}.replays, ${s}.chain_meta`);
    await q.query(`DROP FUNCTION ${s}.ensure_record_partitions(timestamptz), ${s}.reject_change(), ${s}.reject_change_unless_retention()`);
  }
}
