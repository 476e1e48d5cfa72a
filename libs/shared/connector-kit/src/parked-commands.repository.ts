import type { Headers, InboundRecord } from '@provisio/messaging';
import { quoteIdent, type SqlClient } from '@provisio/persistence';

const pairKey = (personId: string, target: string) => `${personId}\u0000${target}`;

/** A command to park: who and what it is for, and the record it came in. */
export interface ParkRequest {
  target: string;
  personId: string;
  version: number;
  commandId: string;
  record: InboundRecord;
  consumerGroup: string;
}

/** A parked command as stored. */
export interface ParkedCommand extends ParkRequest {
  id: string;
  parkedAt: Date;
}

export interface ParkOutcome {
  /** False when a parked command of the same person × target already has this version or a newer one. */
  parked: boolean;
  /** That command, when not parked. */
  existing?: { commandId: string; version: number };
  /** Older parked versions this one replaced (not in work elsewhere); they are settled as stale. */
  superseded: ParkedCommand[];
}

export interface ParkedCount {
  count: number;
  oldestParkedAt: Date | null;
  /** Record timestamp (≈ issue time) of the oldest parked command, epoch ms: it counts in the queue lag. */
  oldestRecordAt: number | null;
}

interface Row {
  id: string;
  target: string;
  person_id: string;
  version: string;
  command_id: string;
  record_topic: string;
  record_partition: number;
  record_offset: string;
  record_key: string | null;
  record_value: Buffer;
  record_headers: Headers;
  record_timestamp: string;
  consumer_group: string;
  parked_at: Date;
}

const COLUMNS = 'id, target, person_id, version, command_id, record_topic, record_partition, record_offset, record_key, record_value, record_headers, record_timestamp, consumer_group, parked_at';

function fromRow(r: Row): ParkedCommand {
  return {
    id: String(r.id),
    target: r.target,
    personId: r.person_id,
    version: Number(r.version),
    commandId: r.command_id,
    record: {
      topic: r.record_topic,
      partition: r.record_partition,
      offset: r.record_offset,
      key: r.record_key === null ? null : Buffer.from(r.record_key, 'utf8'),
      value: r.record_value,
      headers: r.record_headers,
      timestamp: Number(r.record_timestamp),
    },
    consumerGroup: r.consumer_group,
    parkedAt: r.parked_at,
  };
}

/**
 * Commands waiting for a quarantined target, in the connector's own schema. Parking keeps a
 * person × target's commands in order (a later one is parked behind an earlier one) and keeps only
 * the newest version (commands carry the whole desired state). Draining takes, per person ×
 * target, only the oldest row, locked with FOR UPDATE SKIP LOCKED: replicas never apply the same
 * row twice, and a newer row never overtakes an older one that is in work.
 */
export class ParkedCommandsRepository {
  private readonly table: string;

  constructor(schema: string) {
    this.table = `${quoteIdent(schema)}.parked_commands`;
  }

  static key = pairKey;

  /** Which of these person × target pairs have parked commands. */
  async pendingKeys(sql: SqlClient, pairs: { personId: string; target: string }[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (pairs.length === 0) return out;
    const r = await sql.query<{ person_id: string; target: string }>(
      `SELECT DISTINCT p.person_id, p.target FROM ${this.table} p
       JOIN unnest($1::text[], $2::text[]) AS k(person_id, target) ON p.person_id = k.person_id AND p.target = k.target`,
      [pairs.map((p) => p.personId), pairs.map((p) => p.target)],
    );
    for (const row of r.rows) out.add(pairKey(row.person_id, row.target));
    return out;
  }

  /**
   * Parks a command (inside the caller's transaction). Older versions of the same person × target
   * that no drain holds are removed and returned; when an equal or newer version is parked
   * already, nothing is stored and `parked` is false.
   */
  async park(sql: SqlClient, p: ParkRequest): Promise<ParkOutcome> {
    // Same person × target: serialize parkers on the pair (the drain holds row locks, not this one).
    await sql.query(`SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2 || '/' || $3))`, [`provisio:parked:${this.table}`, p.personId, p.target]);
    const newer = await sql.query<{ command_id: string; version: string }>(
      `SELECT command_id, version FROM ${this.table} WHERE person_id = $1 AND target = $2 AND version >= $3 ORDER BY version DESC LIMIT 1`,
      [p.personId, p.target, p.version],
    );
    const existing = newer.rows[0];
    if (existing) return { parked: false, existing: { commandId: existing.command_id, version: Number(existing.version) }, superseded: [] };
    const removed = await sql.query<Row>(
      `DELETE FROM ${this.table} WHERE id IN (
         SELECT id FROM ${this.table} WHERE person_id = $1 AND target = $2 AND version < $3 FOR UPDATE SKIP LOCKED
       ) RETURNING ${COLUMNS}`,
      [p.personId, p.target, p.version],
    );
    const r = p.record;
    await sql.query(
      `INSERT INTO ${this.table} (target, person_id, version, command_id, record_topic, record_partition, record_offset, record_key, record_value, record_headers, record_timestamp, consumer_group)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [p.target, p.personId, p.version, p.commandId, r.topic, r.partition, r.offset, r.key === null ? null : r.key.toString('utf8'), r.value ?? Buffer.alloc(0), JSON.stringify(r.headers), r.timestamp, p.consumerGroup],
    );
    return { parked: true, superseded: removed.rows.map(fromRow).sort((a, b) => Number(a.id) - Number(b.id)) };
  }

  /**
   * The oldest parked command of some person × target of `target` whose older rows are all gone,
   * locked for the caller's transaction; rows other transactions hold are skipped.
   */
  async claimNext(sql: SqlClient, target: string): Promise<ParkedCommand | undefined> {
    const r = await sql.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.table} p
       WHERE p.target = $1
         AND NOT EXISTS (SELECT 1 FROM ${this.table} q WHERE q.person_id = p.person_id AND q.target = p.target AND q.id < p.id)
       ORDER BY p.id
       LIMIT 1
       FOR UPDATE SKIP LOCKED`,
      [target],
    );
    return r.rows[0] ? fromRow(r.rows[0]) : undefined;
  }

  async remove(sql: SqlClient, id: string): Promise<void> {
    await sql.query(`DELETE FROM ${this.table} WHERE id = $1`, [id]);
  }

  /** Parked commands per target (targets without any are absent). */
  async counts(sql: SqlClient): Promise<Map<string, ParkedCount>> {
    const r = await sql.query<{ target: string; n: string; oldest: Date; oldest_record: string }>(
      `SELECT target, count(*) AS n, min(parked_at) AS oldest, min(record_timestamp) AS oldest_record FROM ${this.table} GROUP BY target`,
    );
    return new Map(r.rows.map((row) => [row.target, { count: Number(row.n), oldestParkedAt: row.oldest, oldestRecordAt: Number(row.oldest_record) }]));
  }
}
