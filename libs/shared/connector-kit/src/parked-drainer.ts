import { retryDelay } from '@provisio/connector-domain';
import type { Logger } from '@provisio/observability';
import type { Database } from '@provisio/persistence';
import type { CommandProcessor } from './command-processor.js';
import type { ParkedCommandsRepository } from './parked-commands.repository.js';
import type { TargetRegistry } from './target-registry.js';
import type { TargetRuntime } from './target-runtime.js';

export interface ParkedDrainerOptions {
  /** How often parked commands are counted and drains started (default 1000 ms). */
  pollMs?: number;
  /** Parked commands of one target applied at the same time once it is healthy (default: min(concurrency, 4)). */
  parallelPerTarget?: number;
}

type Step = 'done' | 'stop';

/**
 * Applies parked commands once their target is back. About every second (and right after a
 * command was parked) it counts the parked commands per target (gauge, targets API) and starts a
 * drain for each target that has some and is healthy or due for a probe. A drain applies one
 * command first — while the target is quarantined that command's first call is the probe — and,
 * once the breaker is closed, several in parallel, each person × target strictly oldest first.
 * Rows stay in the database until applied: a restart, or another replica, picks them up.
 */
export class ParkedCommandDrainer {
  private timer: NodeJS.Timeout | undefined;
  private readonly draining = new Map<string, Promise<void>>();
  private readonly retryAt = new Map<string, { at: number; attempt: number }>();
  private stopped = true;
  private ticking: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly db: Database,
    private readonly parked: ParkedCommandsRepository,
    private readonly processor: CommandProcessor,
    private readonly targets: TargetRegistry,
    private readonly logger: Logger,
    private readonly options: ParkedDrainerOptions = {},
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.processor.onParked = () => this.kick();
    this.timer = setInterval(() => this.kick(), this.options.pollMs ?? 1000);
    this.timer.unref();
    this.kick();
  }

  /** Look now (or right after the look in progress). */
  kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick().finally(() => {
      this.ticking = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async tick(): Promise<void> {
    let counts;
    try {
      counts = await this.parked.counts(this.db.sql);
    } catch (e) {
      this.logger.warn({ err: e }, 'cannot count parked commands; trying again');
      return;
    }
    for (const runtime of this.targets.all()) {
      const c = counts.get(runtime.id);
      runtime.setParked(c ?? { count: 0, oldestParkedAt: null, oldestRecordAt: null });
      if (this.stopped || this.draining.has(runtime.id)) continue;
      // Quarantined with nothing parked: no command will probe it, so the drainer does (health would stay degraded until the next command).
      const probeOnly = !c && runtime.breaker.state === 'open' && runtime.probeDue();
      if (!probeOnly && (!c || !this.due(runtime))) continue;
      const run = (probeOnly ? runtime.probe() : this.drain(runtime)).finally(() => this.draining.delete(runtime.id));
      this.draining.set(runtime.id, run);
    }
  }

  private due(runtime: TargetRuntime): boolean {
    const wait = this.retryAt.get(runtime.id);
    return runtime.probeDue() && (!wait || Date.now() >= wait.at);
  }

  private async drain(runtime: TargetRuntime): Promise<void> {
    const wasQuarantined = !runtime.admitsCommands();
    if ((await this.step(runtime)) === 'stop') return;
    if (wasQuarantined) this.logger.info({ target: runtime.id }, 'target back; applying parked commands');
    const parallel = this.options.parallelPerTarget ?? Math.max(1, Math.min(runtime.config.concurrency, 4));
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (!this.stopped && runtime.admitsCommands() && (await this.step(runtime)) === 'done');
      }),
    );
  }

  private async step(runtime: TargetRuntime): Promise<Step> {
    try {
      const step = await this.processor.drainNext(runtime);
      if (step.kind === 'done') {
        this.retryAt.delete(runtime.id);
        return 'done';
      }
      if (step.kind === 'blocked') this.backOff(runtime, step.error.retryAfterMs, step.error.message);
      return 'stop';
    } catch (e) {
      this.backOff(runtime, undefined, (e as Error).message);
      return 'stop';
    }
  }

  /** Transient trouble outside the breaker's own period (a closed breaker, our database): wait a little longer each time. */
  private backOff(runtime: TargetRuntime, hintMs: number | undefined, reason: string): void {
    const attempt = (this.retryAt.get(runtime.id)?.attempt ?? 0) + 1;
    const delay = runtime.admitsCommands() ? retryDelay(attempt, hintMs, runtime.backoff) : 0;
    this.retryAt.set(runtime.id, { at: Date.now() + delay, attempt });
    if (attempt === 1 || attempt % 20 === 0) this.logger.warn({ target: runtime.id, attempt, err: reason, delayMs: delay }, 'parked command not applied yet; trying again later');
  }

  /** Stops starting drains and waits for the ones in work (each ends after its current command). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.processor.onParked = () => undefined;
    await this.ticking;
    await Promise.allSettled([...this.draining.values()]);
  }
}
