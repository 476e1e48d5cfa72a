import { EventTypes, Topics, type ProvisioningResult } from '@provisio/contracts';
import { OutboxWriter } from '@provisio/messaging';
import { Database, type SqlClient } from '@provisio/persistence';
import { AppliedStateRepository, type AppliedUpdate } from './applied-state.repository.js';

export interface SettledCommand {
  result: ProvisioningResult;
  /** The command's trace (its traceparent): the result continues it, though several traces share one flush. */
  traceHeaders?: Record<string, string>;
  /** Absent for results that change no state (SKIPPED_STALE). */
  applied?: AppliedUpdate;
}

interface Queued {
  item: SettledCommand;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Writes results and the applied state in one statement per flush ("group commit"): while one
 * flush runs, settled commands queue up and go together in the next, so many concurrent commands
 * share a commit without waiting for a timer. A flush is BEGIN, one statement (the applied-state
 * upsert as a data-modifying CTE beside the outbox insert) and COMMIT on a pool client: three round
 * trips where two statements in a TypeORM transaction took four. The COMMIT stays a message of
 * its own on purpose: a flush that waited on a lock while the process died must roll back, not
 * commit by itself (an autocommit statement would), or the replayed commands would be answered twice.
 * Each caller's promise resolves once its result is committed to the outbox — the command's
 * offset may be committed only after that.
 */
export class ResultWriter {
  private queue: Queued[] = [];
  private flushing = false;
  private lastFlushAt = 0;

  /**
   * `minFlushIntervalMs`: least time between the starts of two flushes while commands keep
   * settling. A slow target settles its commands one by one; without it every flush (and the
   * relay pass and Kafka send behind it) would carry one or two. A command settled after a
   * quiet spell is flushed at once.
   */
  constructor(
    private readonly db: Database,
    private readonly outbox: OutboxWriter,
    private readonly applied: AppliedStateRepository,
    private readonly maxPerFlush = 500,
    private readonly minFlushIntervalMs = 0,
  ) {}

  write(item: SettledCommand): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  /**
   * Applied state and results in one statement, inside the caller's transaction (a flush's own,
   * or one that commits them with something else: a parked command's removal). At most one
   * update per person × target.
   */
  async writeIn(sql: SqlClient, items: SettledCommand[]): Promise<void> {
    const updates = items.flatMap((i) => (i.applied ? [i.applied] : []));
    await this.outbox.enqueue(
      sql,
      items.map(({ result, traceHeaders }) => ({
        ...(traceHeaders ? { traceHeaders } : {}),
        id: result.resultId,
        topic: Topics.results,
        key: result.personId,
        aggregateType: 'person-target',
        type: EventTypes.result,
        schema: 'ProvisioningResult' as const,
        value: result,
      })),
      updates.length > 0 ? this.applied.upsert(updates) : undefined,
    );
  }

  private async flush(items: SettledCommand[]): Promise<void> {
    const client = await this.db.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await this.writeIn(client, items);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch((r: Error) => (broken = r));
      throw e;
    } finally {
      client.release(broken);
    }
  }

  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const wait = this.lastFlushAt + this.minFlushIntervalMs - Date.now();
        if (wait > 0 && this.queue.length < this.maxPerFlush) await new Promise((r) => setTimeout(r, wait));
        this.lastFlushAt = Date.now();
        // One update per person × target per statement (ON CONFLICT may touch a row once).
        const seen = new Set<string>();
        const batch: Queued[] = [];
        const rest: Queued[] = [];
        for (const q of this.queue) {
          const key = q.item.applied ? AppliedStateRepository.key(q.item.applied.personId, q.item.applied.target) : undefined;
          if (batch.length < this.maxPerFlush && (key === undefined || !seen.has(key))) {
            if (key !== undefined) seen.add(key);
            batch.push(q);
          } else rest.push(q);
        }
        this.queue = rest;
        try {
          await this.flush(batch.map((q) => q.item));
          for (const q of batch) q.resolve();
        } catch (e) {
          for (const q of batch) q.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
