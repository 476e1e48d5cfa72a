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
import type { PersonKeyStore } from './person-keys.repository.js';

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
    const started = process.hrtime.bigint();
    const inserted = await this.db.transaction(async (tx) => {
      await tx.sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockKey]);
      const fresh = await this.withoutKnownPositions(tx.sql, sealed);
      if (fresh.length === 0) return [];
      const head = await this.head(tx.sql);
      const now = this.clock ? this.clock() : (await tx.sql.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now.getTime();
      // Positions and recording times both increase along the chain, so a time-based retention
      // cut is always a prefix of it.
      const recordedAt = Math.max(now, head.recordedAt);
      let prev = head.hash;
      const rows = fresh.map((c, i) => {
        const content: RecordContent = { ...c, recordedAt };
        const seq = head.seq + i + 1;
        const hash = linkHash(seq, prev, contentHash(content));
        const row = { seq, content, index: deriveIndex(content), prevHash: prev, hash };
        prev = hash;
        return row;
      });
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

  private seal(d: UnsealedContent, key: { keyId: string; key: Buffer } | undefined): Omit<RecordContent, 'recordedAt'> {
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

  private async withoutKnownPositions<T extends { topic: string; partition: number; offset: string }>(sql: SqlClient, items: T[]): Promise<T[]> {
    // Within a batch too: the same record twice (a retried send) is one row.
    const seen = new Set<string>();
    const unique = items.filter((c) => {
      const k = `${c.topic}\u0000${c.partition}\u0000${c.offset}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    const r = await sql.query<{ topic: string; kafka_partition: number; kafka_offset: string }>(
      `SELECT p.topic, p.kafka_partition, p.kafka_offset FROM ${this.positions} p
       JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS b(topic, kafka_partition, kafka_offset)
         ON p.topic = b.topic AND p.kafka_partition = b.kafka_partition AND p.kafka_offset = b.kafka_offset`,
      [unique.map((c) => c.topic), unique.map((c) => c.partition), unique.map((c) => c.offset)],
    );
    const known = new Set(r.rows.map((x) => `${x.topic}\u0000${x.kafka_partition}\u0000${x.kafka_offset}`));
    return unique.filter((c) => !known.has(`${c.topic}\u0000${c.partition}\u0000${c.offset}`));
  }

  private async insertRows(sql: SqlClient, rows: { seq: number; content: RecordContent; index: RecordIndex; prevHash: Buffer; hash: Buffer }[]): Promise<void> {
    const col = <T>(f: (r: (typeof rows)[number]) => T): T[] => rows.map(f);
    const iso = (ms: number) => new Date(ms).toISOString();
    const params = [
      col((r) => r.seq),
      col((r) => iso(r.content.recordedAt)),
      col((r) => r.content.topic),
      col((r) => r.content.partition),
      col((r) => r.content.offset),
      col((r) => r.content.key),
      col((r) => iso(r.content.timestamp)),
      col((r) => JSON.stringify(r.content.headers)),
      col((r) => (r.content.payload === null ? null : Buffer.from(r.content.payload, 'base64'))),
      col((r) => r.content.keyId),
      col((r) => (r.content.json === null ? null : JSON.stringify(r.content.json))),
      col((r) => r.content.schema?.name ?? null),
      col((r) => r.content.schema?.version ?? null),
      col((r) => r.content.schema?.fingerprint ?? null),
      col((r) => r.content.decodeError),
      col((r) => r.index.ceId),
      col((r) => r.index.ceType),
      col((r) => r.index.ceSource),
      col((r) => r.index.traceId),
      col((r) => r.index.personId),
      col((r) => r.index.entityId),
      // text[][] cannot be ragged: pass each array as its literal and cast per row.
      col((r) => `{${r.index.causeIds.map((c) => `"${c.replace(/(["\\])/g, '\\$1')}"`).join(',')}}`),
      col((r) => iso(r.index.eventTime)),
      col((r) => r.index.target),
      col((r) => r.index.targetKind),
      col((r) => r.index.outcome),
      col((r) => r.index.deadLetterOf),
      col((r) => r.prevHash),
      col((r) => r.hash),
    ];
    const insert = () =>
      sql.query(
        `INSERT INTO ${this.records} (${RECORD_COLUMNS})
         SELECT seq, recorded_at, topic, kafka_partition, kafka_offset, record_key, kafka_timestamp, headers, payload, key_id, payload_json, schema_name, schema_version, schema_fingerprint, decode_error,
                ce_id, ce_type, ce_source, trace_id, person_id, entity_id, cause_ids::text[], event_time, target, target_kind, outcome, dead_letter_of, prev_hash, hash
         FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::timestamptz[], $8::jsonb[], $9::bytea[], $10::uuid[], $11::jsonb[],
                     $12::text[], $13::int[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::timestamptz[],
                     $24::text[], $25::text[], $26::text[], $27::text[], $28::bytea[], $29::bytea[])
           AS t(seq, recorded_at, topic, kafka_partition, kafka_offset, record_key, kafka_timestamp, headers, payload, key_id, payload_json, schema_name, schema_version, schema_fingerprint, decode_error,
                ce_id, ce_type, ce_source, trace_id, person_id, entity_id, cause_ids, event_time, target, target_kind, outcome, dead_letter_of, prev_hash, hash)`,
        params,
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
    await sql.query(
      `INSERT INTO ${this.positions} (topic, kafka_partition, kafka_offset, seq) SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[])`,
      [col((r) => r.content.topic), col((r) => r.content.partition), col((r) => r.content.offset), col((r) => r.seq)],
    );
  }
}
