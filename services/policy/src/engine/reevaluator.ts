import { gauge } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import type { Logger } from 'pino';
import type { PolicyStore } from '../policy/policy-store.js';
import type { LiveWork } from './live-work.js';
import type { PersonStateRepository } from './person-state.repository.js';
import type { PolicyEngine } from './policy-engine.js';

const remainingGauge = gauge('provisio_policy_reevaluation_remaining', 'Persons not yet evaluated with the active policy version', []);

export interface ReevaluatorOptions {
  batchSize: number;
  pauseMs: number;
  /** Batches in flight at once (one transaction each): one evaluates while another waits on the database. */
  concurrency?: number;
  pollMs?: number;
}

/**
 * Brings every person to the active policy version after an activation (or rollback), in
 * batches that skip persons a live event holds (SKIP LOCKED), stepping aside while live work
 * runs. A few batches run at once; several replicas share the work. Progress: persons whose
 * evaluated_version differs.
 */
export class Reevaluator {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private lastLog = 0;

  constructor(
    private readonly db: Database,
    private readonly store: PolicyStore,
    private readonly persons: PersonStateRepository,
    private readonly engine: PolicyEngine,
    private readonly live: LiveWork,
    private readonly logger: Logger,
    private readonly o: ReevaluatorOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: Math.max(1, this.o.concurrency ?? 1) }, () => this.run());
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
  }

  /** Look for work now (after an activation in this process). */
  nudge(): void {
    for (const wake of this.wakers) wake();
  }

  /** Runs batches until every person is evaluated with the active version; returns how many. */
  async runToCompletion(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.batch();
      if (n === -1) return total;
      total += n;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let n = 0;
      try {
        // Live events first: wait (bounded) while they are in flight.
        for (let waited = 0; this.live.busy(this.o.pauseMs) && waited < 500; waited += this.o.pauseMs || 1) await this.sleep(this.o.pauseMs || 1);
        n = await this.batch();
      } catch (e) {
        this.logger.warn({ err: e }, 're-evaluation batch failed; will retry');
        n = -1;
      }
      if (n === -1) await this.sleep(this.o.pollMs ?? 2000);
      else if (this.o.pauseMs > 0) await this.sleep(this.o.pauseMs);
    }
  }

  /** One batch; -1 when nothing is left (or only persons locked by others). */
  private async batch(): Promise<number> {
    return this.db.transaction(async (tx) => {
      const active = await this.store.active(tx.sql);
      if (!active) return -1;
      const ids = await this.persons.lockStale(tx.sql, active.version, this.o.batchSize);
      if (ids.length === 0) {
        const left = await this.persons.countStale(tx.sql, active.version);
        remainingGauge.set({}, left);
        if (left === 0) await this.store.markReevaluated(tx.sql, active.version);
        return -1;
      }
      const outcome = await this.engine.process(
        tx.sql,
        ids.map((personId) => ({ personId, reason: 'policy-change', hrEffectiveAt: null })),
        { policy: active },
      );
      if (Date.now() - this.lastLog > 5000) {
        this.lastLog = Date.now();
        const left = await this.persons.countStale(tx.sql, active.version);
        remainingGauge.set({}, Math.max(0, left - ids.length));
        this.logger.info(
          { version: active.version, remaining: Math.max(0, left - ids.length), commands: outcome.commands },
          're-evaluating the population for a new policy version',
        );
      }
      return ids.length;
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}
