import { accessDuring, causalOrder, contentHash, recordAad, revealHeader, revealPersonalData, type AccessGrant } from '@provisio/audit-domain';
import { quoteIdent, type Database } from '@provisio/persistence';
import { AccessBaseline, appliedStateOf } from '../store/access-baseline.js';
import type { PersonKeyStore } from '../store/person-keys.repository.js';
import { RECORD_COLUMNS, contentOf, type RecordRepository, type RecordRow } from '../store/record.repository.js';

export const AUDIT_QUERIES = Symbol('AUDIT_QUERIES');

/** One stored record as the API shows it (personal data decrypted when the key still exists). */
export interface RecordView {
  /** Chain position. */
  seq: string;
  /** Same as seq (kept for clients of the first API version). */
  id: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  personId: string | null;
  ceId: string | null;
  ceType: string | null;
  ceSource: string | null;
  eventTime: string;
  recordedAt: string;
  traceId: string | null;
  schema: string | null;
  payload: unknown;
  /** True when the person's key was shredded: personal fields are null. */
  piiShredded: boolean;
  decodeError: string | null;
  entityId: string | null;
  causedBy: string[];
  target: string | null;
  outcome: string | null;
  deadLetter: { originalTopic: string; errorClass: string | null; errorCode: string | null; errorMessage: string | null; failedAt: string | null; consumerGroup: string | null } | null;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; null at the end. */
  nextCursor: string | null;
}

export interface SearchFilter {
  from?: Date | undefined;
  to?: Date | undefined;
  type?: string | undefined;
  topic?: string | undefined;
  target?: string | undefined;
  person?: string | undefined;
  failuresOnly?: boolean | undefined;
  deadLettersOnly?: boolean | undefined;
  cursor?: string | undefined;
  limit: number;
}

export class CursorError extends Error {}

function encodeCursor(time: Date, seq: string): string {
  return Buffer.from(JSON.stringify([time.getTime(), seq]), 'utf8').toString('base64url');
}

function decodeCursor(c: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string' && /^\d+$/.test(v[1])) return [v[0], v[1]];
  } catch {
    /* below */
  }
  throw new CursorError('cursor is not one this API returned');
}

/** Read side of the store: timeline, search, failures, access at a time, exports. */
export class AuditQueries {
  private readonly records: string;
  private readonly baseline: AccessBaseline;

  constructor(
    private readonly db: Database,
    repo: RecordRepository,
    private readonly keys: PersonKeyStore,
  ) {
    this.records = `${quoteIdent(repo.schema)}.records`;
    this.baseline = new AccessBaseline(repo.schema);
  }

  async views(rows: RecordRow[]): Promise<RecordView[]> {
    const keys = await this.keys.keyById(this.db.sql, rows.map((r) => r.key_id).filter((k): k is string => k !== null));
    return rows.map((r) => {
      let payload = r.payload_json;
      let shredded = false;
      if (r.key_id && payload !== null) {
        const revealed = revealPersonalData(payload, keys.get(r.key_id) ?? null, recordAad(r.topic, r.kafka_partition, r.kafka_offset), r.pii);
        payload = revealed.json;
        shredded = revealed.shredded;
      }
      const h = r.headers;
      const key = r.key_id ? (keys.get(r.key_id) ?? null) : null;
      const aad = recordAad(r.topic, r.kafka_partition, r.kafka_offset);
      const errorMessage = revealHeader(h, 'dlt-error-message', key, aad);
      if (errorMessage === null && h['dlt-error-message'] !== undefined) shredded = true;
      return {
        seq: r.seq,
        id: r.seq,
        topic: r.topic,
        partition: r.kafka_partition,
        offset: r.kafka_offset,
        key: r.record_key,
        personId: r.person_id,
        ceId: r.ce_id,
        ceType: r.ce_type,
        ceSource: r.ce_source,
        eventTime: r.event_time.toISOString(),
        recordedAt: r.recorded_at.toISOString(),
        traceId: r.trace_id,
        schema: r.schema_name ? `${r.schema_name} v${r.schema_version ?? '?'}` : null,
        payload,
        piiShredded: shredded,
        decodeError: r.decode_error,
        entityId: r.entity_id,
        causedBy: r.cause_ids,
        target: r.target,
        outcome: r.outcome,
        deadLetter: r.dead_letter_of
          ? {
              originalTopic: r.dead_letter_of,
              errorClass: h['dlt-error-class'] ?? null,
              errorCode: h['dlt-error-code'] || null,
              errorMessage,
              failedAt: h['dlt-failed-at'] ?? null,
              consumerGroup: h['dlt-consumer-group'] ?? null,
            }
          : null,
      };
    });
  }

  /** A person's records in causal order (HR event → decision → commands → results → dead letters). */
  async timeline(personId: string, o: { from?: Date | undefined; to?: Date | undefined; limit: number }): Promise<{ records: RecordView[]; truncated: boolean }> {
    const r = await this.db.sql.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM ${this.records} WHERE person_id = $1 AND event_time >= $2 AND event_time <= $3 ORDER BY event_time, seq LIMIT $4`,
      [personId, o.from ?? new Date(0), o.to ?? new Date(8.64e15), o.limit + 1],
    );
    const truncated = r.rows.length > o.limit;
    const rows = r.rows.slice(0, o.limit);
    const ordered = causalOrder(
      rows.map((x) => ({ seq: Number(x.seq), ids: [x.entity_id, x.ce_id].filter((i): i is string => i !== null && x.dead_letter_of === null), causeIds: x.cause_ids, time: x.event_time.getTime(), row: x })),
    );
    return { records: await this.views(ordered.map((n) => n.row)), truncated };
  }

  async record(seq: string): Promise<RecordView | null> {
    const r = await this.db.sql.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ${this.records} WHERE seq = $1 ORDER BY hash LIMIT 1`, [seq]);
    return r.rows[0] ? (await this.views(r.rows))[0]! : null;
  }

  async rawRecord(seq: string): Promise<RecordRow | null> {
    const r = await this.db.sql.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ${this.records} WHERE seq = $1 ORDER BY hash LIMIT 1`, [seq]);
    return r.rows[0] ?? null;
  }

  /** Keyset-paginated search ordered by event time, then position. */
  async search(f: SearchFilter): Promise<Page<RecordView>> {
    const where: string[] = ['event_time >= $1', 'event_time <= $2'];
    const params: unknown[] = [f.from ?? new Date(0), f.to ?? new Date(8.64e15)];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.type) add(f.type.endsWith('*') ? 'ce_type LIKE ?' : 'ce_type = ?', f.type.endsWith('*') ? `${f.type.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%` : f.type);
    if (f.topic) add('topic = ?', f.topic);
    if (f.target) add('target = ?', f.target);
    if (f.person) add('person_id = ?', f.person);
    if (f.failuresOnly) where.push(`(dead_letter_of IS NOT NULL OR outcome = 'FAILED')`);
    if (f.deadLettersOnly) where.push('dead_letter_of IS NOT NULL');
    if (f.cursor) {
      const [t, seq] = decodeCursor(f.cursor);
      params.push(new Date(t), seq);
      where.push(`(event_time, seq) > ($${params.length - 1}, $${params.length})`);
    }
    params.push(f.limit + 1);
    const r = await this.db.sql.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ${this.records} WHERE ${where.join(' AND ')} ORDER BY event_time, seq LIMIT $${params.length}`, params);
    const more = r.rows.length > f.limit;
    const rows = r.rows.slice(0, f.limit);
    const last = rows.at(-1);
    return { items: await this.views(rows), nextCursor: more && last ? encodeCursor(last.event_time, last.seq) : null };
  }

  /**
   * Who had access to a target (optionally one entitlement) at `at`, or at any time in
   * [at, until]: the desired state of the last command a connector applied before then.
   */
  async access(o: { target: string; entitlement?: string | undefined; at: Date; until?: Date | undefined }): Promise<(AccessGrant & { accountName: string | null })[]> {
    const until = o.until ?? o.at;
    const rows = await this.baseline.appliedStates(this.db.sql, { target: o.target, appliedUntil: until.getTime() });
    const grants = accessDuring(rows.map(appliedStateOf), o.at.getTime(), until.getTime(), o.entitlement);
    const byResult = new Map(rows.map((x) => [x.result_id, x]));
    const keys = await this.keys.keyById(this.db.sql, rows.map((x) => x.key_id).filter((k): k is string => k !== null));
    return grants.map((g) => {
      const row = byResult.get(g.evidence.resultId);
      let name: unknown = row?.account ?? null;
      if (row?.key_id) name = (revealPersonalData({ accountName: row.account }, keys.get(row.key_id) ?? null, recordAad(row.topic, row.kafka_partition, row.kafka_offset), row.pii).json as { accountName: unknown }).accountName;
      return { ...g, accountName: typeof name === 'string' ? name : null };
    });
  }

  /** Chain positions covered by records recorded in [from, to]. */
  async positionsRecordedBetween(from: Date, to: Date): Promise<{ first: number; last: number } | null> {
    const r = await this.db.sql.query<{ first: string | null; last: string | null }>(`SELECT min(seq) AS first, max(seq) AS last FROM ${this.records} WHERE recorded_at >= $1 AND recorded_at <= $2`, [from, to]);
    const row = r.rows[0];
    return row?.first && row.last ? { first: Number(row.first), last: Number(row.last) } : null;
  }

  /** First and last chain positions of the records whose event time is in [from, to]. */
  async positionsWithEventTimeBetween(from: Date, to: Date): Promise<{ first: number; last: number } | null> {
    const r = await this.db.sql.query<{ first: string | null; last: string | null }>(`SELECT min(seq) AS first, max(seq) AS last FROM ${this.records} WHERE event_time >= $1 AND event_time <= $2`, [from, to]);
    const row = r.rows[0];
    return row?.first && row.last ? { first: Number(row.first), last: Number(row.last) } : null;
  }

  contentHashOf(row: RecordRow): string {
    return contentHash(contentOf(row)).toString('hex');
  }
}
