/**
 * What audit stores for one Kafka record. `RecordContent` is exactly what the hash chain covers;
 * `RecordIndex` is derived from it (query columns) and re-derived by verification, so changing an
 * index column is detected like changing the content.
 */
export interface RecordContent {
  topic: string;
  partition: number;
  /** Kafka offset, decimal. */
  offset: string;
  key: string | null;
  /** Kafka record timestamp, epoch ms. */
  timestamp: number;
  /** When audit appended it, epoch ms (never earlier than the previous record's). */
  recordedAt: number;
  headers: Record<string, string>;
  /** Stored value bytes, base64: the original bytes, or their AES-GCM ciphertext when `keyId` is set. */
  payload: string | null;
  /** The person key that encrypted the payload and the `$pii` members of `json`. */
  keyId: string | null;
  /** The decoded value with personal data encrypted, when the bytes could be decoded. */
  json: unknown;
  /**
   * The record's PII envelope (AES-GCM, base64) that the `{"$pii": i}` markers of `json` point
   * into; absent for records without personal fields and for the first format (one ciphertext
   * per field), so their hashes are unchanged.
   */
  pii?: string;
  /** Writer schema, e.g. `ProvisioningResult` with version and fingerprint. */
  schema: { name: string; version: number; fingerprint: string } | null;
  /** Why the value could not be decoded (raw bytes are stored anyway). */
  decodeError: string | null;
}

export interface RecordIndex {
  ceId: string | null;
  ceType: string | null;
  ceSource: string | null;
  traceId: string | null;
  personId: string | null;
  /** The fact's own id (eventId, decisionId, commandId, resultId, ... or ce_id). */
  entityId: string | null;
  /** Ids of the facts this one was caused by (result → command → lifecycle event). */
  causeIds: string[];
  /** CloudEvents time, else the Kafka timestamp, epoch ms. */
  eventTime: number;
  target: string | null;
  targetKind: string | null;
  /** Result status (APPLIED, FAILED, ...) or lifecycle kind. */
  outcome: string | null;
  /** For dead letters: the topic the record was dead-lettered from. */
  deadLetterOf: string | null;
}

export const DEAD_LETTER_SUFFIX = '.dlt';

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;
/** Fields that name a fact's own id, most specific first. */
const ENTITY_FIELDS = ['eventId', 'decisionId', 'violationId', 'driftId', 'resultId', 'commandId', 'id'] as const;
/** Fields that point at the fact a record was caused by. */
const LINK_FIELDS = ['lifecycleEventId', 'decisionId', 'commandId', 'causationId', 'causeEventId', 'causeId', 'resultId', 'eventId'] as const;

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function obj(v: unknown): Record<string, unknown> | null {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

export function traceIdFromHeaders(headers: Record<string, string>): string | null {
  const m = headers['traceparent'] ? TRACEPARENT.exec(headers['traceparent']) : null;
  return m?.[1] ?? null;
}

/** The payload's own id and the ids it links to (causal links), from any schema. */
export function causalIdsOf(json: unknown): { entityId: string | null; causeIds: string[] } {
  const o = obj(json);
  if (!o) return { entityId: null, causeIds: [] };
  let entityField: string | null = null;
  let entityId: string | null = null;
  for (const f of ENTITY_FIELDS) {
    const v = str(o[f]);
    if (v) {
      entityField = f;
      entityId = v;
      break;
    }
  }
  const causes = new Set<string>();
  for (const container of [o, obj(o['cause']), obj(o['causedBy'])]) {
    if (!container) continue;
    for (const f of LINK_FIELDS) {
      if (container === o && f === entityField) continue;
      const v = str(container[f]);
      if (v && v !== entityId) causes.add(v);
    }
  }
  return { entityId, causeIds: [...causes].sort() };
}

/** Derives the query columns from the stored content (pure; verification re-runs it). */
export function deriveIndex(c: RecordContent): RecordIndex {
  const h = c.headers;
  const json = obj(c.json);
  const ceTime = h['ce_time'] ? Date.parse(h['ce_time']) : Number.NaN;
  const isDeadLetter = c.topic.endsWith(DEAD_LETTER_SUFFIX);
  const ids = causalIdsOf(c.json);
  const ceId = str(h['ce_id']);
  let entityId = ids.entityId ?? ceId;
  let causeIds = ids.causeIds;
  if (isDeadLetter) {
    // A dead letter repeats a fact that exists already: it follows it and causes nothing.
    causeIds = [...new Set([entityId, ceId].filter((x): x is string => x !== null))].sort();
    entityId = null;
  }
  const status = str(json?.['status']) ?? str(json?.['kind']);
  return {
    ceId,
    ceType: str(h['ce_type']),
    ceSource: str(h['ce_source']),
    traceId: traceIdFromHeaders(h),
    personId: c.key ?? str(json?.['personId']) ?? str(h['ce_subject']),
    entityId,
    causeIds,
    eventTime: Number.isFinite(ceTime) ? ceTime : c.timestamp,
    target: str(json?.['target']),
    targetKind: str(json?.['targetKind']),
    outcome: status,
    deadLetterOf: isDeadLetter ? (str(h['dlt-original-topic']) ?? c.topic.slice(0, -DEAD_LETTER_SUFFIX.length)) : null,
  };
}

/** Index columns that differ between what is stored and what the content says. */
export function indexDifferences(stored: RecordIndex, derived: RecordIndex): string[] {
  const out: string[] = [];
  for (const k of Object.keys(derived) as (keyof RecordIndex)[]) {
    const a = stored[k];
    const b = derived[k];
    const same = Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => x === b[i]) : a === b;
    if (!same) out.push(k);
  }
  return out;
}
