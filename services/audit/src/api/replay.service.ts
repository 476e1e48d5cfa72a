import { DEAD_LETTER_SUFFIX, recordAad, decryptBytes } from '@provisio/audit-domain';
import { MESSAGE_BROKER } from '@provisio/platform';
import type { Headers, MessageBroker } from '@provisio/messaging';
import { quoteIdent, type Database } from '@provisio/persistence';
import type { PersonKeyStore } from '../store/person-keys.repository.js';
import type { RecordRow } from '../store/record.repository.js';
import { ReplayUnavailable } from './replay-producer.js';

export { MESSAGE_BROKER };

export enum ReplayErrorCode {
  NotFound = 'REPLAY_NOT_FOUND',
  NotADeadLetter = 'REPLAY_NOT_A_DEAD_LETTER',
  AlreadyReplayed = 'REPLAY_ALREADY_REPLAYED',
  Unreadable = 'REPLAY_PAYLOAD_SHREDDED',
  WrongDestination = 'REPLAY_WRONG_DESTINATION',
  /** No producer may write the destination (SASL without the replay principal's credentials). */
  Unavailable = 'REPLAY_UNAVAILABLE',
}

export class ReplayError extends Error {
  constructor(
    readonly code: ReplayErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReplayError';
  }
}

export const REPLAY_HEADERS = { of: 'provisio-replay-of', by: 'provisio-replayed-by', reason: 'provisio-replay-reason' } as const;

export interface ReplayOutcome {
  seq: string;
  topic: string;
  replays: number;
  /** Chain position of the audit record of this replay (audit.actions). */
  actionSeq: number;
}

/** Where audit's own actions are appended to the chain (RecordRepository.appendAction). */
export interface ActionLog {
  appendAction(action: { type: string; subject: string | null; body: Record<string, unknown> }): Promise<number>;
}

/**
 * Sends a dead-lettered record back to the topic it failed on: the original key, bytes and
 * headers (without the dead-letter headers), marked with who replayed which audit position. The
 * replayed record comes back into audit like any other, so the replay itself is on the chain.
 */
export class ReplayService {
  constructor(
    private readonly db: Database,
    private readonly schema: string,
    private readonly keys: PersonKeyStore,
    /** The replay producer (its own principal on a SASL cluster), or why there is none. */
    private readonly broker: MessageBroker | ReplayUnavailable,
    private readonly actions: ActionLog,
  ) {}

  async replay(row: RecordRow | null, seq: string, o: { by: string; reason?: string | undefined; force?: boolean | undefined }): Promise<ReplayOutcome> {
    // Before anything is read or recorded: a replay that cannot be sent must not count as one.
    if (this.broker instanceof ReplayUnavailable) throw new ReplayError(ReplayErrorCode.Unavailable, this.broker.reason);
    const broker = this.broker;
    if (!row) throw new ReplayError(ReplayErrorCode.NotFound, `no audit record at position ${seq}`);
    if (!row.dead_letter_of || !row.topic.endsWith(DEAD_LETTER_SUFFIX)) throw new ReplayError(ReplayErrorCode.NotADeadLetter, `record ${seq} on ${row.topic} is not a dead letter`);
    // The destination is the dead-letter topic's own source, never what a header claims: whoever
    // can write a dead-letter topic could otherwise have the replay principal (allowed to write
    // every topic with dead letters) inject the record into another topic.
    const destination = row.topic.slice(0, -DEAD_LETTER_SUFFIX.length);
    if (row.dead_letter_of !== destination) {
      throw new ReplayError(ReplayErrorCode.WrongDestination, `record ${seq} on ${row.topic} names ${row.dead_letter_of} as its original topic, not ${destination}: not replayed`);
    }
    let value = row.payload;
    if (row.key_id && value) {
      const key = (await this.keys.keyById(this.db.sql, [row.key_id])).get(row.key_id);
      if (!key) throw new ReplayError(ReplayErrorCode.Unreadable, `record ${seq} cannot be replayed: its person's key was shredded`);
      value = decryptBytes(key, value, recordAad(row.topic, row.kafka_partition, row.kafka_offset));
    }
    const headers: Headers = {};
    for (const [k, v] of Object.entries(row.headers)) if (!k.startsWith('dlt-') && !k.startsWith('provisio-replay')) headers[k] = v;
    headers[REPLAY_HEADERS.of] = seq;
    headers[REPLAY_HEADERS.by] = o.by;
    if (o.reason) headers[REPLAY_HEADERS.reason] = o.reason.slice(0, 500);
    const table = `${quoteIdent(this.schema)}.replays`;
    const done = await this.db.transaction(async (tx) => {
      await tx.sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`provisio:audit-replay:${this.schema}:${seq}`]);
      const before = await tx.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE seq = $1`, [seq]);
      const n = Number(before.rows[0]?.n ?? 0);
      if (n > 0 && !o.force) throw new ReplayError(ReplayErrorCode.AlreadyReplayed, `record ${seq} was replayed ${n} time(s) already; pass force=true to replay again`);
      await tx.sql.query(`INSERT INTO ${table} (seq, topic, replayed_by, reason) VALUES ($1, $2, $3, $4)`, [seq, destination, o.by, o.reason ?? null]);
      await broker.send([{ topic: destination, key: row.record_key, value, headers }]);
      return { seq, topic: destination, replays: n + 1 };
    });
    // The replay on the chain: who replayed which record where, and why.
    const actionSeq = await this.actions.appendAction({
      type: 'dead-letter-replayed',
      subject: row.person_id,
      body: { by: o.by, replayedSeq: seq, deadLetterTopic: row.topic, topic: destination, replays: done.replays, ...(o.reason ? { reason: o.reason.slice(0, 500) } : {}) },
    });
    return { ...done, actionSeq };
  }
}
