import type { Logger } from '@provisio/observability';
import { ReconcileConflict, type Reconciler } from './reconciler.js';
import type { TargetRegistry } from './target-registry.js';

/**
 * Scheduled reconciliation: every target with `reconcile.intervalMinutes` > 0 is reconciled when
 * its last run (by any replica, from the runs table) is older than the interval. The advisory
 * lock in the reconciler keeps replicas from running the same target twice.
 */
export class ReconcileScheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(
    private readonly reconciler: Reconciler,
    private readonly targets: TargetRegistry,
    private readonly logger: Logger,
    private readonly checkEveryMs = 30_000,
  ) {}

  start(): void {
    const scheduled = this.targets.all().filter((t) => t.config.reconcile.intervalMinutes > 0);
    if (scheduled.length === 0) return;
    const every = Math.min(this.checkEveryMs, ...scheduled.map((t) => (t.config.reconcile.intervalMinutes * 60_000) / 4));
    this.timer = setInterval(() => void this.tick(), Math.max(1000, every));
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const t of this.targets.all()) {
        const interval = t.config.reconcile.intervalMinutes * 60_000;
        if (interval <= 0 || !this.timer) continue;
        try {
          const last = await this.reconciler.lastFinishedAt(t.id);
          if (last !== null && Date.now() - last < interval) continue;
          await this.reconciler.start(t.id, t.config.reconcile.mode, 'SCHEDULE', null);
        } catch (e) {
          if (!(e instanceof ReconcileConflict)) this.logger.warn({ target: t.id, err: e }, 'scheduled reconciliation could not start');
        }
      }
    } finally {
      this.ticking = false;
    }
  }
}
