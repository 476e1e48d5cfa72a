import {
  anchorProblem,
  contentHash,
  sortedJson,
  deriveIndex,
  encryptBytes,
  genesisHash,
  linkHash,
  recordAad,
  sealHeaders,
  sealRecordPii,
  type CanonicalParts,
  type ChainHead,
  type RecordContent,
  type RecordIndex,
  type SignedCheckpoint,
  type TrustedKeys,
  type VerifiableEntry,
} from '@provisio/audit-domain';
import { randomUUID } from 'node:crypto';
import { counter, histogram } from '@provisio/observability';
import { quoteIdent, type Database, type SqlClient } from '@provisio/persistence';
import type { ConsumedMessage } from '@provisio/messaging';
import { BinaryCopyWriter, copyBinary } from './pg-copy.js';
import { decodeRecord, type UnsealedContent } from './record-decoder.js';
import type { PersonKey, PersonKeyStore } from './person-keys.repository.js';

export const RECORD_REPOSITORY = Symbol('RECORD_REPOSITORY');

/** The pseudo-topic of audit's own actions on its chain (never a Kafka topic). */
export const ACTIONS_TOPIC = 'audit.actions';
export const ACTION_EVENT_TYPE_PREFIX = 'dev.provisio.audit.action.';

const ingested = counter('provisio_audit_records_ingested_total', 'Kafka records appended to the audit chain', ['topic']);
const duplicates = counter('provisio_audit_records_duplicate_total', 'Redelivered Kafka records ignored (already in the chain)', []);
const appendSeconds = histogram('provisio_audit_append_seconds', 'Time to append one group of batches (lock, COPY, commit)', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
const groupBatches = histogram('provisio_audit_append_group_batches', 'Consumed batches appended together in one transaction', [], [1, 2, 4, 8, 16, 32]);

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
  pii: Buffer | null;
  /** With `scan(..., withLedger)`: the ledger's position of this Kafka record (null: unknown to it). */
  ledger_seq?: string | null;
  /** With `scan(..., withLedger)`: whether the ledger has a row at this record's position. */
  ledger_here?: boolean;
}

export const RECORD_COLUMNS =
  'seq, recorded_at, topic, kafka_partition, kafka_offset, record_key, kafka_timestamp, headers, payload, key_id, payload_json, schema_name, schema_version, schema_fingerprint, decode_error, ce_id, ce_type, ce_source, trace_id, person_id, entity_id, cause_ids, event_time, target, target_kind, outcome, dead_letter_of, prev_hash, hash, pii';

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
    ...(r.pii ? { pii: r.pii.toString('base64') } : {}),
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
  const entry: VerifiableEntry = { seq: Number(r.seq), hash: r.hash, prevHash: r.prev_hash, content: contentOf(r), index: indexOf(r) };
  if (r.ledger_here !== undefined) entry.ledger = { seq: r.ledger_seq == null ? null : Number(r.ledger_seq), here: r.ledger_here };
  return entry;
}

function positionKey(c: { topic: string; partition: number; offset: string }): string {
  return `${c.topic}\u0000${c.partition}\u0000${c.offset}`;
}

const RECORD_COLUMN_COUNT = RECORD_COLUMNS.split(',').length;
/** Largest records COPY buffer kept between groups (bytes). */
const MAX_KEPT_COPY_BUFFER = 64 * 1024 * 1024;
/** Placeholder until a prepared record's content hash is computed. */
const NO_HASH = Buffer.alloc(0);
/** Placeholder until a prepared record's index columns are derived. */
const NO_INDEX = deriveIndex({ topic: '', partition: 0, offset: '0', key: null, timestamp: 0, recordedAt: 0, headers: {}, payload: null, keyId: null, json: null, schema: null, decodeError: null });
/** Rows appended in one transaction at most (several consumed batches). */
const MAX_GROUP_ROWS = 20_000;

function literal(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

/** A record ready to be linked: stored content, its hash, and what the binary COPY needs. */
interface Prepared {
  /**
   * The content; once hashed, its decoded value is dropped (set to null, `hasJson` says whether
   * there was one): `parts.json` holds its canonical text, which is what is hashed and stored, so
   * the object tree need not wait for the writer (less for the garbage collector to move).
   */
  content: RecordContent;
  contentHash: Buffer;
  parts: CanonicalParts & { json: string; headers: string };
  hasJson: boolean;
  /** The index columns (they do not depend on the recording time). */
  index: RecordIndex;
  payloadBytes: Buffer | null;
  piiBytes: Buffer | null;
}

/** A prepared record at its chain position (its content, when its recording time was raised). */
interface Linked {
  prepared: Prepared;
  content: RecordContent;
  seq: number;
  index: RecordIndex;
  prevHash: Buffer;
  hash: Buffer;
}

interface Waiting {
  items: Prepared[];
  resolve(n: number): void;
  reject(e: unknown): void;
}

export interface ChainStart extends ChainHead {
  recordedAt: number;
  basis: 'genesis' | 'anchor';
  /** The signed anchor the chain starts from (basis 'anchor'). */
  anchor?: SignedCheckpoint;
}

/** Rows of `checkpoints` marked as anchors that are not genuine signed anchors. */
export interface RejectedAnchor {
  /** The position the row claims. */
  seq: number;
  detail: string;
}

/** What the position ledger holds of one Kafka partition. */
export interface LedgerPartition {
  min: bigint;
  max: bigint;
  count: bigint;
}

/** Offsets of a partition missing from the ledger between two stored ones (`after` and `before`, with their positions). */
export interface LedgerHole {
  after: { offset: bigint; seq: number };
  before: { offset: bigint; seq: number };
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
  private readonly waiting: Waiting[] = [];
  private writing = false;
  private readonly ensuredMonths = new Set<string>();
  /**
   * The records COPY buffer of the previous group, reused: appends are serialized by the single
   * writer, and a group's transaction ends (COMMIT or ROLLBACK answered, or the connection
   * destroyed) before the next group is encoded — PostgreSQL answers only after it read the
   * COPY data, which is written to the socket from this buffer without a copy (see pg-copy.ts).
   */
  private copyBuffer: Buffer | undefined;

  constructor(
    private readonly db: Database,
    readonly schema: string,
    /** Null for a read-only store (verification without the PII key): it cannot append. */
    private readonly keys: PersonKeyStore | null,
    /** Keys whose signed anchors the chain may start from. */
    private readonly trusted: TrustedKeys,
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

  /** Where the chain starts: the latest genuine retention anchor, else genesis. */
  async chainStart(sql: SqlClient = this.db.sql): Promise<ChainStart> {
    return (await this.anchors(sql)).start;
  }

  /**
   * The chain's start and the anchor rows that were refused. A row counts as an anchor only when
   * its signed statement says kind 'anchor', names this chain and carries a valid signature of a
   * trusted key; the runtime role can INSERT into `checkpoints`, so the `kind` column alone
   * proves nothing. Position and hash come from the signed statement, never from the columns.
   */
  async anchors(sql: SqlClient = this.db.sql): Promise<{ start: ChainStart; rejected: RejectedAnchor[] }> {
    const chainId = await this.chainId(sql);
    const r = await sql.query<{ seq: string; hash: Buffer; statement: string; signature: string }>(
      `SELECT seq, hash, statement, signature FROM ${this.checkpoints} WHERE kind = 'anchor' ORDER BY seq DESC, id DESC`,
    );
    const rejected: RejectedAnchor[] = [];
    let start: ChainStart | undefined;
    for (const row of r.rows) {
      let signed: SignedCheckpoint;
      try {
        signed = { statement: JSON.parse(row.statement) as SignedCheckpoint['statement'], signature: row.signature };
      } catch {
        rejected.push({ seq: Number(row.seq), detail: `anchor row at ${row.seq} has no readable signed statement` });
        continue;
      }
      const problem = anchorProblem(signed, chainId, this.trusted);
      const s = signed.statement;
      const columnsAgree = Number(row.seq) === s.seq && row.hash.toString('hex') === s.hash;
      if (problem || !columnsAgree) {
        rejected.push({ seq: Number(row.seq), detail: `anchor row at ${row.seq} is not a genuine retention anchor: ${problem ?? 'its columns differ from its signed statement'}` });
        continue;
      }
      if (!start || s.seq > start.seq) start = { seq: s.seq, hash: Buffer.from(s.hash, 'hex'), recordedAt: s.recordedAt, basis: 'anchor', anchor: signed };
    }
    return { start: start ?? { seq: 0, hash: genesisHash(chainId), recordedAt: 0, basis: 'genesis' }, rejected };
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
   * Appends one of audit's own actions (crypto-shredding, a replay) to the chain as a JSON record
   * of the pseudo-topic `audit.actions` (offsets from a sequence), so who did what, when and to
   * which person or record is as tamper-evident as the records themselves. The person is named
   * in `ce_subject` (the index's person id, for the timeline), not as a key: the action holds no
   * personal data and must not create a data key for a person just shredded. Returns its position.
   */
  async appendAction(action: { type: string; subject: string | null; body: Record<string, unknown> }): Promise<number> {
    const r = await this.db.sql.query<{ offset: string }>(`SELECT nextval('${this.s}.action_offsets')::text AS offset`);
    const offset = r.rows[0]!.offset;
    const now = this.clock ? this.clock() : Date.now();
    const id = randomUUID();
    const headers: Record<string, string> = {
      ce_id: id,
      ce_type: `${ACTION_EVENT_TYPE_PREFIX}${action.type}`,
      ce_source: '/provisio/audit',
      ce_specversion: '1.0',
      ce_time: new Date(now).toISOString(),
      'content-type': 'application/json',
      ...(action.subject ? { ce_subject: action.subject } : {}),
    };
    const value = Buffer.from(JSON.stringify({ action: action.type, actionId: id, ...action.body }), 'utf8');
    await this.append([{ topic: ACTIONS_TOPIC, partition: 0, offset, key: null, headers, envelope: {}, value, timestamp: now }]);
    const at = await this.db.sql.query<{ seq: string }>(`SELECT seq FROM ${this.positions} WHERE topic = $1 AND kafka_partition = 0 AND kafka_offset = $2`, [ACTIONS_TOPIC, offset]);
    return Number(at.rows[0]!.seq);
  }

  /** The lowest and highest Kafka offset the ledger holds per topic and partition, and how many (key: topic NUL partition). */
  async ledgerOffsets(sql: SqlClient = this.db.sql): Promise<Map<string, LedgerPartition>> {
    const r = await sql.query<{ topic: string; kafka_partition: number; min: string; max: string; count: string }>(
      `SELECT topic, kafka_partition, min(kafka_offset) AS min, max(kafka_offset) AS max, count(*) AS count FROM ${this.positions} GROUP BY topic, kafka_partition`,
    );
    return new Map(r.rows.map((x) => [`${x.topic}\u0000${x.kafka_partition}`, { min: BigInt(x.min), max: BigInt(x.max), count: BigInt(x.count) }]));
  }

  /**
   * Offsets of one partition the ledger has no row for between two it has, in offset order (at
   * most `limit` holes): each with the stored records around it. One index range scan.
   */
  async ledgerHoles(topic: string, partition: number, limit: number, sql: SqlClient = this.db.sql): Promise<LedgerHole[]> {
    const r = await sql.query<{ prev_offset: string; prev_seq: string; kafka_offset: string; seq: string }>(
      `SELECT prev_offset, prev_seq, kafka_offset, seq FROM (
         SELECT kafka_offset, seq, lag(kafka_offset) OVER w AS prev_offset, lag(seq) OVER w AS prev_seq
         FROM ${this.positions} WHERE topic = $1 AND kafka_partition = $2 WINDOW w AS (ORDER BY kafka_offset)
       ) x WHERE kafka_offset > prev_offset + 1 ORDER BY kafka_offset LIMIT $3`,
      [topic, partition, limit],
    );
    return r.rows.map((x) => ({ after: { offset: BigInt(x.prev_offset), seq: Number(x.prev_seq) }, before: { offset: BigInt(x.kafka_offset), seq: Number(x.seq) } }));
  }

  /**
   * Appends one consumed batch: exactly one row per Kafka record (a redelivered record is found
   * in the position ledger and skipped), sealed personal data, hash-chained, committed before
   * this resolves. Returns how many rows were new.
   *
   * Decoding, sealing and content hashes happen here, concurrently with other batches; the
   * prepared batches then wait for the single writer, which appends everything waiting in one
   * transaction (group commit: several partitions' batches per transaction, in the order they
   * were prepared, each batch contiguous and in offset order).
   */
  async append(batch: ConsumedMessage<Buffer | null>[]): Promise<number> {
    if (batch.length === 0) return 0;
    const prepared = await this.prepare(batch);
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ items: prepared, resolve, reject });
      this.drain();
    });
  }

  /** Decodes, seals and hashes a batch (outside the chain lock). */
  private async prepare(batch: ConsumedMessage<Buffer | null>[]): Promise<Prepared[]> {
    const keys = this.keys;
    if (!keys) throw new Error('this audit store was opened for verification only (no PII key): it cannot append');
    const decoded = this.unique(batch.map(decodeRecord));
    const people = decoded.map((d) => d.personId).filter((p): p is string => p !== null);
    const personKeys = people.length > 0 ? await keys.activeKeys(this.db.sql, people) : new Map<string, PersonKey>();
    // The recording time is this process's clock, raised under the lock to the chain head's if
    // another replica's clock ran ahead (then those hashes are recomputed, cheaply: the canonical
    // texts of the large members are kept).
    const preparedAt = this.clock ? this.clock() : Date.now();
    return decoded.map((d) => {
      const p = this.seal(d, d.personId ? personKeys.get(d.personId) : undefined, preparedAt);
      p.contentHash = this.hashOf(p.content, p.parts);
      p.index = deriveIndex(p.content);
      p.content.json = null;
      return p;
    });
  }

  private hashOf(content: RecordContent, parts: CanonicalParts): Buffer {
    return contentHash(content, parts);
  }

  /** The single writer: appends every waiting batch, a group per transaction. */
  private drain(): void {
    if (this.writing) return;
    this.writing = true;
    void (async () => {
      try {
        while (this.waiting.length > 0) {
          const group: Waiting[] = [];
          let rows = 0;
          while (this.waiting.length > 0 && (group.length === 0 || rows + this.waiting[0]!.items.length <= MAX_GROUP_ROWS)) {
            const w = this.waiting.shift()!;
            rows += w.items.length;
            group.push(w);
          }
          await this.writeGroup(group);
        }
      } finally {
        this.writing = false;
      }
    })();
  }

  private async writeGroup(group: Waiting[]): Promise<void> {
    // Chain order within a group: the order the batches were prepared in (recording times then
    // rarely need raising), each batch in offset order.
    group.sort((a, b) => (a.items[0]?.content.recordedAt ?? 0) - (b.items[0]?.content.recordedAt ?? 0));
    try {
      const counts = await this.appendGroup(group.map((g) => g.items));
      group.forEach((g, i) => g.resolve(counts[i]!));
    } catch (e) {
      if (group.length === 1) {
        group[0]!.reject(e);
        return;
      }
      // One batch must not hold back the others: append them one by one, each failing alone.
      for (const g of group) {
        try {
          g.resolve((await this.appendGroup([g.items]))[0]!);
        } catch (err) {
          g.reject(err);
        }
      }
    }
  }

  /** One transaction: chain lock, head, position claims, records (binary COPY), commit. */
  private async appendGroup(batches: Prepared[][]): Promise<number[]> {
    const all = this.uniquePrepared(batches.flat());
    const started = process.hrtime.bigint();
    await this.ensureMonths(all);
    const client = await this.db.pool.connect();
    let inserted: Linked[];
    try {
      // One round trip: transaction, lock, then the head (read after the lock is held: each
      // statement of a simple query takes its own snapshot), and a savepoint for the claims.
      const results = (await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(hashtext(${literal(this.lockKey)})); SELECT seq, hash, recorded_at FROM ${this.records} ORDER BY seq DESC LIMIT 1; SAVEPOINT audit_positions`,
      )) as unknown as { rows: { seq: string; hash: Buffer; recorded_at: Date }[] }[];
      const top = results[2]?.rows[0];
      const head = top ? { seq: Number(top.seq), hash: top.hash, recordedAt: top.recorded_at.getTime() } : await this.emptyHead(client);
      let fresh = all;
      let rows = this.link(head, fresh);
      // Records first, then their ledger rows: the ledger accepts a row only for a record written
      // before it in the transaction (migration LedgerNeedsRecords).
      const write = async () => {
        if (rows.length === 0) return;
        await copyBinary(client, `${this.records} (${RECORD_COLUMNS})`, this.recordRows(rows));
        await copyBinary(client, `${this.positions} (topic, kafka_partition, kafka_offset, seq)`, this.positionRows(rows));
      };
      try {
        await write();
      } catch (e) {
        if ((e as { code?: string }).code !== '23505') throw e;
        // Redelivered records (already in the chain): drop them and link the rest again.
        await client.query('ROLLBACK TO SAVEPOINT audit_positions');
        const known = await this.knownPositions(client, fresh);
        fresh = fresh.filter((p) => !known.has(positionKey(p.content)));
        rows = this.link(head, fresh);
        try {
          await write();
        } catch (again) {
          if ((again as { code?: string }).code !== '23505') throw again;
          // Not a redelivery: the ledger already holds a position after the head that no record
          // has (written with the guard trigger off). Say so instead of failing anonymously.
          throw new Error(
            `audit position ledger holds a position in ${head.seq + 1}..${head.seq + rows.length} without a record (the chain head is ${head.seq}): appends cannot continue until the schema owner removes it — run provisio-audit verify and see docs/audit.md`,
            { cause: again },
          );
        }
      }
      await client.query('COMMIT');
      inserted = rows;
    } catch (e) {
      if ((e as { code?: string }).code === '23514') this.ensuredMonths.clear(); // a partition is missing after all
      const broken = await client.query('ROLLBACK').then(
        () => false,
        () => true,
      );
      client.release(broken);
      throw e;
    }
    client.release();
    appendSeconds.observe({}, Number(process.hrtime.bigint() - started) / 1e9);
    groupBatches.observe({}, batches.length);
    const stored = new Set(inserted.map((r) => positionKey(r.content)));
    for (const r of inserted) ingested.inc({ topic: r.content.topic });
    const counts = batches.map((b) => {
      let n = 0;
      for (const p of b) if (stored.delete(positionKey(p.content))) n++;
      return n;
    });
    const total = batches.reduce((a, b) => a + b.length, 0);
    if (total > inserted.length) duplicates.inc({}, total - inserted.length);
    return counts;
  }

  private async emptyHead(sql: SqlClient): Promise<ChainHead & { recordedAt: number }> {
    const start = await this.chainStart(sql);
    return { seq: start.seq, hash: start.hash, recordedAt: start.recordedAt };
  }

  /** Monthly partitions for these recording times, created once per process and month. */
  private async ensureMonths(items: { content: RecordContent }[]): Promise<void> {
    const months = new Set(items.map((p) => new Date(p.content.recordedAt).toISOString().slice(0, 7)));
    for (const m of months) {
      if (this.ensuredMonths.has(m)) continue;
      await this.ensurePartitions(new Date(`${m}-01T00:00:00Z`).getTime() < Date.now() - 20 * 86_400_000 ? new Date() : new Date(`${m}-15T00:00:00Z`));
      this.ensuredMonths.add(m);
    }
  }

  /** Ensures the monthly partitions around now exist (the runtime role may call this). */
  async ensurePartitions(at = new Date()): Promise<number> {
    const r = await this.db.sql.query<{ n: number }>(`SELECT ${this.s}.ensure_record_partitions($1) AS n`, [at.toISOString()]);
    return r.rows[0]?.n ?? 0;
  }

  /**
   * Rows in position order, from `afterSeq` (exclusive) up to `untilSeq`, in pages. `withLedger`
   * adds what the position ledger says about each row (verification's cross-check).
   */
  async *scan(afterSeq: number, untilSeq: number = Number.MAX_SAFE_INTEGER, pageSize = 2000, sql: SqlClient = this.db.sql, withLedger = false): AsyncGenerator<RecordRow[]> {
    const select = (where: string, limit: string) => {
      const inner = `SELECT ${RECORD_COLUMNS} FROM ${this.records} WHERE ${where} ORDER BY seq, hash${limit}`;
      if (!withLedger) return inner;
      return `SELECT x.*,
          (SELECT l.seq FROM ${this.positions} l WHERE l.topic = x.topic AND l.kafka_partition = x.kafka_partition AND l.kafka_offset = x.kafka_offset) AS ledger_seq,
          EXISTS (SELECT 1 FROM ${this.positions} h WHERE h.seq = x.seq) AS ledger_here
        FROM (${inner}) x ORDER BY x.seq, x.hash`;
    };
    let after = afterSeq;
    for (;;) {
      // Equal positions (an inserted duplicate) must not be skipped: page by (seq, hash).
      const r = await sql.query<RecordRow>(select('seq > $1 AND seq <= $2', ' LIMIT $3'), [after, untilSeq, pageSize]);
      if (r.rows.length === 0) return;
      let rows = r.rows;
      const last = Number(rows.at(-1)!.seq);
      if (rows.length === pageSize) {
        // Take the whole last position, even if it spans the page boundary.
        const rest = await sql.query<RecordRow>(select('seq = $1', ''), [last]);
        rows = [...rows.filter((x) => Number(x.seq) !== last), ...rest.rows];
      }
      yield rows;
      after = last;
      if (r.rows.length < pageSize) return;
    }
  }

  private seal(d: UnsealedContent, key: PersonKey | undefined, recordedAt: number): Prepared {
    const aad = recordAad(d.topic, d.partition, d.offset);
    // Free-text headers that may quote personal data (the dead-letter error) are sealed too.
    const headers = sortedJson(key ? sealHeaders(d.headers, key.key, aad) : d.headers);
    const base = {
      topic: d.topic,
      partition: d.partition,
      offset: d.offset,
      key: d.key,
      timestamp: d.timestamp,
      recordedAt,
      headers: headers.value as Record<string, string>,
      schema: d.schema,
      decodeError: d.decodeError,
    };
    if (!key) {
      const json = sortedJson(d.json);
      const content: RecordContent = { ...base, payload: d.raw ? d.raw.toString('base64') : null, keyId: d.keyId, json: json.value };
      return { content, contentHash: NO_HASH, parts: { json: json.text, headers: headers.text }, hasJson: d.json !== null, index: NO_INDEX, payloadBytes: d.raw, piiBytes: null };
    }
    const payloadBytes = d.raw ? encryptBytes(key.key, d.raw, aad) : null;
    const sealed = d.json === null ? { json: null, envelope: null, canonical: 'null' } : sealRecordPii(d.json, key.key, aad, d.schema?.name ?? null);
    const content: RecordContent = {
      ...base,
      payload: payloadBytes ? payloadBytes.toString('base64') : null,
      keyId: key.keyId,
      json: sealed.json,
      ...(sealed.envelope ? { pii: sealed.envelope.toString('base64') } : {}),
    };
    return { content, contentHash: NO_HASH, parts: { json: sealed.canonical, headers: headers.text }, hasJson: d.json !== null, index: NO_INDEX, payloadBytes, piiBytes: sealed.envelope };
  }

  /** The same for prepared records. */
  private uniquePrepared(items: Prepared[]): Prepared[] {
    const seen = new Set<string>();
    return items.filter((p) => {
      const k = positionKey(p.content);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
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

  /** Chains prepared records after `head`; recording times never decrease along the chain. */
  private link(head: ChainHead & { recordedAt: number }, prepared: Prepared[]): Linked[] {
    let prev = head.hash;
    let time = head.recordedAt;
    return prepared.map((p, i) => {
      let content = p.content;
      let ch = p.contentHash;
      if (content.recordedAt < time) {
        content = { ...content, recordedAt: time };
        ch = this.hashOf(content, p.parts);
      }
      time = content.recordedAt;
      const seq = head.seq + i + 1;
      const hash = linkHash(seq, prev, ch);
      const row: Linked = { prepared: p, content, seq, index: p.index, prevHash: prev, hash };
      prev = hash;
      return row;
    });
  }

  /** Positions of these records that the ledger knows already. */
  private async knownPositions(sql: SqlClient, items: Prepared[]): Promise<Set<string>> {
    const r = await sql.query<{ topic: string; kafka_partition: number; kafka_offset: string }>(
      `SELECT p.topic, p.kafka_partition, p.kafka_offset FROM ${this.positions} p
       JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS k(topic, kafka_partition, kafka_offset) USING (topic, kafka_partition, kafka_offset)`,
      [items.map((x) => x.content.topic), items.map((x) => x.content.partition), items.map((x) => x.content.offset)],
    );
    return new Set(r.rows.map((x) => `${x.topic}\u0000${x.kafka_partition}\u0000${x.kafka_offset}`));
  }

  private positionRows(rows: Linked[]): BinaryCopyWriter {
    const w = new BinaryCopyWriter(rows.length * 64);
    for (const r of rows) w.row(4).text(r.content.topic).int4(r.content.partition).int8(r.content.offset).int8(r.seq);
    return w;
  }

  /** The rows in the column order of RECORD_COLUMNS. */
  private recordRows(rows: Linked[]): BinaryCopyWriter {
    const w = new BinaryCopyWriter(rows.length * 2560, this.copyBuffer);
    this.copyBuffer = undefined;
    for (const r of rows) {
      const c = r.content;
      const i = r.index;
      const p = r.prepared;
      w.row(RECORD_COLUMN_COUNT)
        .int8(r.seq)
        .timestamptz(c.recordedAt)
        .text(c.topic)
        .int4(c.partition)
        .int8(c.offset)
        .text(c.key)
        .timestamptz(c.timestamp)
        .jsonb(p.parts.headers)
        .bytea(p.payloadBytes)
        .uuid(c.keyId)
        .jsonb(p.hasJson ? p.parts.json : null)
        .text(c.schema?.name ?? null)
        .int4(c.schema?.version ?? null)
        .text(c.schema?.fingerprint ?? null)
        .text(c.decodeError)
        .text(i.ceId)
        .text(i.ceType)
        .text(i.ceSource)
        .text(i.traceId)
        .text(i.personId)
        .text(i.entityId)
        .textArray(i.causeIds)
        .timestamptz(i.eventTime)
        .text(i.target)
        .text(i.targetKind)
        .text(i.outcome)
        .text(i.deadLetterOf)
        .bytea(r.prevHash)
        .bytea(r.hash)
        .bytea(p.piiBytes);
    }
    // Kept for the next group unless unusually large.
    if (w.buffer.length <= MAX_KEPT_COPY_BUFFER) this.copyBuffer = w.buffer;
    return w;
  }
}
