import {
  contentHash,
  deriveIndex,
  encryptBytes,
  genesisHash,
  linkHash,
  recordAad,
  sealPersonalData,
  type ChainHead,
  type RecordContent,
  type RecordIndex,
  type VerifiableEntry,
} from '@provisio/audit-domain';
import { counter, histogram } from '@provisio/observability';
import { quoteIdent, type Database, type SqlClient } from '@provisio/persistence';
import type { ConsumedMessage } from '@provisio/messaging';
import { decodeRecord, type UnsealedContent } from './record-decoder.js';
import type { PersonKey, PersonKeyStore } from './person-keys.repository.js';

export const RECORD_REPOSITORY = Symbol('RECORD_REPOSITORY');

const ingested = counter('provisio_audit_records_ingested_total', 'Kafka records appended to the audit chain', ['topic']);
const duplicates = counter('provisio_audit_records_duplicate_total', 'Redelivered Kafka records ignored (already in the chain)', []);
const appendSeconds = histogram('provisio_audit_append_seconds', 'Time to append one batch (lock, insert, commit)', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);

/** The columns of `records`, as read back. */
export interface RecordRow {
  seq: string;
  recorded_at: Date;
  topic: string;
  kafka_partition: number;
  kafka_offset: string;
  record_key: string | null;
  kafka_timestamp: Date;
  headers: Record<string, string>;
  payload: Buffer | null;
  key_id: string | null;
  payload_json: unknown;
  schema_name: string | null;
  schema_version: number | null;
  schema_fingerprint: string | null;
  decode_error: string | null;
  ce_id: string | null;
  ce_type: string | null;
  ce_source: string | null;
  trace_id: string | null;
  person_id: string | null;
  entity_id: string | null;
  cause_ids: string[];
  event_time: Date;
  target: string | null;
  target_kind: string | null;
  outcome: string | null;
  dead_letter_of: string | null;
  prev_hash: Buffer;
  hash: Buffer;
}

export const RECORD_COLUMNS =
  'seq, recorded_at, topic, kafka_partition, kafka_offset, record_key, kafka_timestamp, headers, payload, key_id, payload_json, schema_name, schema_version, schema_fingerprint, decode_error, ce_id, ce_type, ce_source, trace_id, person_id, entity_id, cause_ids, event_time, target, target_kind, outcome, dead_letter_of, prev_hash, hash';

export function contentOf(r: RecordRow): RecordContent {
  return {
    topic: r.topic,
    partition: r.kafka_partition,
    offset: r.kafka_offset,
    key: r.record_key,
    timestamp: r.kafka_timestamp.getTime(),
    recordedAt: r.recorded_at.getTime(),
    headers: r.headers,
    payload: r.payload ? r.payload.toString('base64') : null,
    keyId: r.key_id,
    json: r.payload_json ?? null,
    schema: r.schema_name ? { name: r.schema_name, version: r.schema_version ?? 0, fingerprint: r.schema_fingerprint ?? '' } : null,
    decodeError: r.decode_error,
  };
}

export function indexOf(r: RecordRow): RecordIndex {
  return {
    ceId: r.ce_id,
    ceType: r.ce_type,
    ceSource: r.ce_source,
    traceId: r.trace_id,
    personId: r.person_id,
    entityId: r.entity_id,
    causeIds: r.cause_ids,
    eventTime: r.event_time.getTime(),
    target: r.target,
    targetKind: r.target_kind,
    outcome: r.outcome,
    deadLetterOf: r.dead_letter_of,
  };
}

export function entryOf(r: RecordRow): VerifiableEntry {
  return { seq: Number(r.seq), hash: r.hash, prevHash: r.prev_hash, content: contentOf(r), index: indexOf(r) };
}

function positionKey(c: { topic: string; partition: number; offset: string }): string {
  return `${c.topic}\u0000${c.partition}\u0000${c.offset}`;
}

export interface ChainStart extends ChainHead {
  recordedAt: number;
  basis: 'genesis' | 'anchor';
}

/**
 * The append path and the raw readers of the chain. One global chain: appends serialize on a
 * transaction-scoped advisory lock (held only while the batch is inserted), so positions are
 * gap-free and commit in order.
 */
export class RecordRepository {
  readonly records: string;
  private readonly positions: string;
  private readonly checkpoints: string;
  private readonly s: string;
  private chainIdCache: string | undefined;

  constructor(
    private readonly db: Database,
    readonly schema: string,
    private readonly keys: PersonKeyStore,
    /** Recording clock (epoch ms); the database clock when absent. Tests of retention set it. */
    private readonly clock?: () => number,
  ) {
    this.s = quoteIdent(schema);
    this.records = `${this.s}.records`;
    this.positions = `${this.s}.record_positions`;
    this.checkpoints = `${this.s}.checkpoints`;
  }

  get lockKey(): string {
    return `provisio:audit-chain:${this.schema}`;
  }

  async chainId(sql: SqlClient = this.db.sql): Promise<string> {
    if (this.chainIdCache) return this.chainIdCache;
    const r = await sql.query<{ chain_id: string }>(`SELECT chain_id FROM ${this.s}.chain_meta`);
    if (!r.rows[0]) throw new Error(`${this.schema}.chain_meta is empty: migrations did not run`);
    this.chainIdCache = r.rows[0].chain_id;
    return this.chainIdCache;
  }

  /** Where the chain starts: the latest retention anchor, else genesis. */
  async chainStart(sql: SqlClient = this.db.sql): Promise<ChainStart> {
    const r = await sql.query<{ seq: string; hash: Buffer; statement: string }>(`SELECT seq, hash, statement FROM ${this.checkpoints} WHERE kind = 'anchor' ORDER BY seq DESC LIMIT 1`);
    const a = r.rows[0];
    if (a) return { seq: Number(a.seq), hash: a.hash, recordedAt: (JSON.parse(a.statement) as { recordedAt: number }).recordedAt, basis: 'anchor' };
    return { seq: 0, hash: genesisHash(await this.chainId(sql)), recordedAt: 0, basis: 'genesis' };
  }

  async head(sql: SqlClient = this.db.sql): Promise<ChainHead & { recordedAt: number }> {
    const r = await sql.query<{ seq: string; hash: Buffer; recorded_at: Date }>(`SELECT seq, hash, recorded_at FROM ${this.records} ORDER BY seq DESC LIMIT 1`);
    const row = r.rows[0];
    if (row) return { seq: Number(row.seq), hash: row.hash, recordedAt: row.recorded_at.getTime() };
    const start = await this.chainStart(sql);
    return { seq: start.seq, hash: start.hash, recordedAt: start.recordedAt };
  }

  /** Highest position the ledger knows (survives deletion of records rows). */
  async ledgerEnd(sql: SqlClient = this.db.sql): Promise<number> {
    const r = await sql.query<{ max: string | null }>(`SELECT max(seq) AS max FROM ${this.positions}`);
    return Number(r.rows[0]?.max ?? 0);
  }

  /**
   * Appends one consumed batch: exactly one row per Kafka record (a redelivered record is found
   * in the position ledger and skipped), sealed personal data, hash-chained, in one transaction.
   * Returns how many rows were new.
   */
  async append(batch: ConsumedMessage<Buffer | null>[]): Promise<number> {
    if (batch.length === 0) return 0;
    const decoded = batch.map(decodeRecord);
    const people = decoded.map((d) => d.personId).filter((p): p is string => p !== null);
    const personKeys = people.length > 0 ? await this.keys.activeKeys(this.db.sql, people) : new Map();
    const sealed = decoded.map((d) => this.seal(d, d.personId ? personKeys.get(d.personId) : undefined));
    // Content hashes are computed before taking the chain lock; only the links are made under it.
    // The recording time is this process's clock, raised to the chain head's under the lock if
    // another replica's clock ran ahead (then those hashes are recomputed).
    const preparedAt = this.clock ? this.clock() : Date.now();
    const prepared = this.unique(sealed).map((c) => {
      const content: RecordContent = { ...c, recordedAt: preparedAt };
      return { content, contentHash: contentHash(content) };
    });
    const started = process.hrtime.bigint();
    const inserted = await this.db.transaction(async (tx) => {
      await tx.sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockKey]);
      const head = await this.head(tx.sql);
      let fresh = prepared;
      let rows = this.link(head, fresh);
      await tx.sql.query('SAVEPOINT audit_positions');
      const claimed = await this.claimPositions(tx.sql, rows);
      if (claimed.size < rows.length) {
        // Redelivered records (already in the chain): drop them and link the rest again.
        await tx.sql.query('ROLLBACK TO SAVEPOINT audit_positions');
        fresh = fresh.filter((p) => claimed.has(positionKey(p.content)));
        if (fresh.length === 0) return [];
        rows = this.link(head, fresh);
        await this.claimPositions(tx.sql, rows);
      }
      await this.insertRows(tx.sql, rows);
      return rows;
    });
    appendSeconds.observe({}, Number(process.hrtime.bigint() - started) / 1e9);
    for (const r of inserted) ingested.inc({ topic: r.content.topic });
    if (batch.length > inserted.length) duplicates.inc({}, batch.length - inserted.length);
    return inserted.length;
  }

  /** Ensures the monthly partitions around now exist (the runtime role may call this). */
  async ensurePartitions(at = new Date()): Promise<number> {
    const r = await this.db.sql.query<{ n: number }>(`SELECT ${this.s}.ensure_record_partitions($1) AS n`, [at.toISOString()]);
    return r.rows[0]?.n ?? 0;
  }

  /** Rows in position order, from `afterSeq` (exclusive) up to `untilSeq`, in pages. */
  async *scan(afterSeq: number, untilSeq: number = Number.MAX_SAFE_INTEGER, pageSize = 2000, sql: SqlClient = this.db.sql): AsyncGenerator<RecordRow[]> {
    let after = afterSeq;
    for (;;) {
      // Equal positions (an inserted duplicate) must not be skipped: page by (seq, hash).
      const r = await sql.query<RecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM ${this.records} WHERE seq > $1 AND seq <= $2 ORDER BY seq, hash LIMIT $3`,
        [after, untilSeq, pageSize],
      );
      if (r.rows.length === 0) return;
      let rows = r.rows;
      const last = Number(rows.at(-1)!.seq);
      if (rows.length === pageSize) {
        // Take the whole last position, even if it spans the page boundary.
        const rest = await sql.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ${this.records} WHERE seq = $1 ORDER BY hash`, [last]);
        rows = [...rows.filter((x) => Number(x.seq) !== last), ...rest.rows];
      }
      yield rows;
      after = last;
      if (r.rows.length < pageSize) return;
    }
  }

  private seal(d: UnsealedContent, key: PersonKey | undefined): Omit<RecordContent, 'recordedAt'> {
    const { raw, personId: _p, ...content } = d;
    if (!key) return { ...content, payload: raw ? raw.toString('base64') : null };
    const aad = recordAad(d.topic, d.partition, d.offset);
    return {
      ...content,
      keyId: key.keyId,
      payload: raw ? encryptBytes(key.key, raw, aad).toString('base64') : null,
      json: d.json === null ? null : sealPersonalData(d.json, key.key, aad, d.schema?.name ?? null).json,
    };
  }

  /** One record per Kafka position within a batch too (a retried send delivered twice). */
  private unique<T extends { topic: string; partition: number; offset: string }>(items: T[]): T[] {
    const seen = new Set<string>();
    return items.filter((c) => {
      const k = positionKey(c);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  /** Chains prepared contents after `head`; recomputes content hashes only if the head's time is later. */
  private link(head: ChainHead & { recordedAt: number }, prepared: { content: RecordContent; contentHash: Buffer }[]) {
    let prev = head.hash;
    return prepared.map((p, i) => {
      let content = p.content;
      let ch = p.contentHash;
      if (content.recordedAt < head.recordedAt) {
        content = { ...content, recordedAt: head.recordedAt };
        ch = contentHash(content);
      }
      const seq = head.seq + i + 1;
      const hash = linkHash(seq, prev, ch);
      const row = { seq, content, index: deriveIndex(content), prevHash: prev, hash };
      prev = hash;
      return row;
    });
  }

  /**
   * Records the Kafka positions in the ledger (unique on topic, partition, offset); returns the
   * positions that were new. A known position means the record is in the chain already.
   */
  private async claimPositions(sql: SqlClient, rows: { seq: number; content: RecordContent }[]): Promise<Set<string>> {
    const r = await sql.query<{ topic: string; kafka_partition: number; kafka_offset: string }>(
      `INSERT INTO ${this.positions} (topic, kafka_partition, kafka_offset, seq) SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[])
       ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING RETURNING topic, kafka_partition, kafka_offset`,
      [rows.map((x) => x.content.topic), rows.map((x) => x.content.partition), rows.map((x) => x.content.offset), rows.map((x) => x.seq)],
    );
    return new Set(r.rows.map((x) => `${x.topic}\u0000${x.kafka_partition}\u0000${x.kafka_offset}`));
  }

  private async insertRows(sql: SqlClient, rows: { seq: number; content: RecordContent; index: RecordIndex; prevHash: Buffer; hash: Buffer }[]): Promise<void> {
    // One JSON document for the whole batch: PostgreSQL parses it once (jsonb_to_recordset), which
    // is much cheaper than 29 array literals with per-element escaping.
    const iso = (ms: number) => new Date(ms).toISOString();
    const doc = JSON.stringify(
      rows.map((r) => ({
        seq: r.seq,
        recorded_at: iso(r.content.recordedAt),
        topic: r.content.topic,
        kafka_partition: r.content.partition,
        kafka_offset: r.content.offset,
        record_key: r.content.key,
        kafka_timestamp: iso(r.content.timestamp),
        headers: r.content.headers,
        payload: r.content.payload,
        key_id: r.content.keyId,
        payload_json: r.content.json,
        schema_name: r.content.schema?.name ?? null,
        schema_version: r.content.schema?.version ?? null,
        schema_fingerprint: r.content.schema?.fingerprint ?? null,
        decode_error: r.content.decodeError,
        ce_id: r.index.ceId,
        ce_type: r.index.ceType,
        ce_source: r.index.ceSource,
        trace_id: r.index.traceId,
        person_id: r.index.personId,
        entity_id: r.index.entityId,
        cause_ids: r.index.causeIds,
        event_time: iso(r.index.eventTime),
        target: r.index.target,
        target_kind: r.index.targetKind,
        outcome: r.index.outcome,
        dead_letter_of: r.index.deadLetterOf,
        prev_hash: r.prevHash.toString('hex'),
        hash: r.hash.toString('hex'),
      })),
    );
    const insert = () =>
      sql.query(
        `INSERT INTO ${this.records} (${RECORD_COLUMNS})
         SELECT seq, recorded_at, topic, kafka_partition, kafka_offset, record_key, kafka_timestamp, headers, decode(payload, 'base64'), key_id,
                CASE WHEN jsonb_typeof(payload_json) = 'null' THEN NULL ELSE payload_json END, schema_name, schema_version, schema_fingerprint, decode_error,
                ce_id, ce_type, ce_source, trace_id, person_id, entity_id, ARRAY(SELECT jsonb_array_elements_text(cause_ids)), event_time, target, target_kind, outcome,
                dead_letter_of, decode(prev_hash, 'hex'), decode(hash, 'hex')
         FROM jsonb_to_recordset($1::jsonb) AS t(seq bigint, recorded_at timestamptz, topic text, kafka_partition int, kafka_offset bigint, record_key text, kafka_timestamp timestamptz,
              headers jsonb, payload text, key_id uuid, payload_json jsonb, schema_name text, schema_version int, schema_fingerprint text, decode_error text, ce_id text, ce_type text,
              ce_source text, trace_id text, person_id text, entity_id text, cause_ids jsonb, event_time timestamptz, target text, target_kind text, outcome text, dead_letter_of text,
              prev_hash text, hash text)`,
        [doc],
      );
    try {
      await sql.query('SAVEPOINT audit_insert');
      await insert();
    } catch (e) {
      // 23514: no partition for this month yet (first record after midnight of a new month).
      if ((e as { code?: string }).code !== '23514') throw e;
      await sql.query('ROLLBACK TO SAVEPOINT audit_insert');
      await sql.query(`SELECT ${this.s}.ensure_record_partitions($1)`, [iso(rows[0]!.content.recordedAt)]);
      await insert();
    }
  }
}
