import {
  CircuitBreaker,
  ConnectorError,
  ConnectorErrorCode,
  TokenBucket,
  toConnectorError,
  type BackoffOptions,
  type BreakerState,
  type PlanOptions,
  type TargetConnector,
} from '@provisio/connector-domain';
import type { Logger } from '@provisio/observability';
import { Semaphore, sleep, withTimeout } from './concurrency.js';
import { ConnectorMetrics } from './connector-metrics.js';
import type { ParkedCount } from './parked-commands.repository.js';
import type { CommonTargetConfig } from './targets-config.js';

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface TargetStatus {
  id: string;
  kind: string;
  quarantine: { state: BreakerState; since: string | null; nextProbeAt: string | null; reason: string | null };
  inFlight: number;
  oldestCommandAgeSeconds: number | null;
  /** Commands parked in the database until the target is back (the count of the last look, about every second). */
  parked: { count: number; oldestParkedAt: string | null };
  rateLimitedUntil: string | null;
}

/**
 * Everything the kit puts between commands and one target: the circuit breaker (quarantine),
 * the token bucket (honouring Retry-After), the concurrency limit, call timeouts, and per-target
 * metrics. Every call to the connector goes through `call`.
 */
export class TargetRuntime {
  readonly breaker: CircuitBreaker;
  private readonly bucket: TokenBucket | undefined;
  private readonly slots: Semaphore;
  private readonly pending = new Map<symbol, number>();
  private readonly lagTimer: NodeJS.Timeout;
  readonly backoff: BackoffOptions;
  readonly planOptions: Partial<PlanOptions>;
  private readonly labels: { target: string; kind: string };

  constructor(
    readonly config: CommonTargetConfig,
    readonly kind: string,
    readonly connector: TargetConnector,
    private readonly logger: Logger,
    planOptions: Partial<PlanOptions> = {},
    /** Account names compare case-insensitively on this target (LDAP uid, AD sAMAccountName). */
    readonly namesCaseInsensitive = false,
    private readonly now: () => number = Date.now,
  ) {
    this.labels = { target: config.id, kind };
    const b = config.breaker;
    this.breaker = new CircuitBreaker(
      {
        consecutiveFailures: b.consecutiveFailures,
        failureRate: b.failureRate,
        minimumCalls: b.minimumCalls,
        windowMs: b.windowSeconds * 1000,
        openMs: b.openSeconds * 1000,
        maxOpenMs: b.maxOpenSeconds * 1000,
        closeAfterSuccesses: 1,
      },
      (t) => {
        ConnectorMetrics.quarantine.set(this.labels, STATE_VALUE[t.to]);
        ConnectorMetrics.quarantineTransitions.inc({ ...this.labels, to: t.to });
        const log = t.to === 'open' ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger);
        log({ target: config.id, from: t.from, to: t.to, reason: t.reason }, t.to === 'open' ? 'target quarantined' : t.to === 'closed' ? 'target resumed' : 'probing quarantined target');
      },
    );
    ConnectorMetrics.quarantine.set(this.labels, 0);
    ConnectorMetrics.parked.set(this.labels, 0);
    this.bucket = config.rateLimit ? new TokenBucket({ ratePerSecond: config.rateLimit.perSecond, burst: config.rateLimit.burst ?? Math.max(1, Math.ceil(config.rateLimit.perSecond)) }, now()) : undefined;
    this.slots = new Semaphore(config.concurrency);
    this.backoff = config.retry;
    const managed = config.groups.managedPattern ? new RegExp(config.groups.managedPattern) : undefined;
    this.planOptions = {
      removeUnlistedGroups: config.groups.removeUnlisted,
      ...(managed ? { isManagedGroup: (g: string) => managed.test(g) } : {}),
      ...planOptions,
    };
    this.lagTimer = setInterval(() => this.publishLag(), 1000);
    this.lagTimer.unref();
  }

  get id(): string {
    return this.config.id;
  }

  /**
   * Whether commands may go to the target now. Not while quarantined (open) or probing
   * (half-open): then commands are parked, and the drainer's next parked command is the probe.
   */
  admitsCommands(): boolean {
    return this.breaker.state === 'closed';
  }

  /** Whether a drain may try the target now: healthy, or the quarantine period is over (the probe). */
  probeDue(): boolean {
    const next = this.breaker.nextProbeAt;
    return this.breaker.state !== 'open' || next === null || this.now() >= next;
  }

  private parkedNow: ParkedCount = { count: 0, oldestParkedAt: null, oldestRecordAt: null };

  /** The drainer's latest count of parked commands (the gauge; parked commands count in the queue lag). */
  setParked(parked: ParkedCount): void {
    this.parkedNow = parked;
    ConnectorMetrics.parked.set(this.labels, parked.count);
    this.publishLag();
  }

  /** Probes a quarantined target whose quarantine period is over (a ping); outcome goes to the breaker. Never throws. */
  async probe(): Promise<void> {
    await this.call('probe', async () => undefined).catch(() => undefined);
  }

  /**
   * Runs one target call under quarantine, rate limit, concurrency limit and timeout. A call that
   * timed out keeps its concurrency slot until it settles on the target (at most another
   * callTimeoutMs), so timeouts cannot pile more concurrent work onto a slow target than allowed.
   */
  async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const admission = this.breaker.admit(this.now());
    if (!admission.allowed) {
      throw new ConnectorError(ConnectorErrorCode.Quarantined, `target ${this.id} is quarantined`, { retryAfterMs: admission.retryInMs });
    }
    const probe = admission.probe;
    let settled = false;
    try {
      await this.takeToken();
      let release = await this.slots.acquire();
      // A 429 may have come in while this call waited for a slot: its Retry-After holds for this
      // call too, so the slot is given back until the pause is over.
      for (let wait = this.pausedUntil - this.now(); wait > 0; wait = this.pausedUntil - this.now()) {
        release();
        await sleep(Math.min(wait, 1000));
        release = await this.slots.acquire();
      }
      const started = process.hrtime.bigint();
      let running: Promise<unknown> = Promise.resolve();
      let settledOnTarget = true;
      const hold = (p: Promise<unknown>) => {
        settledOnTarget = false;
        running = p.then(
          () => void (settledOnTarget = true),
          () => void (settledOnTarget = true),
        );
      };
      try {
        // A probe asks the target whether it is back before risking a real command on it.
        if (probe) await this.timed(() => this.connector.ping(), 'ping', hold);
        const result = await this.timed(fn, operation, hold);
        ConnectorMetrics.callDuration.observe({ ...this.labels, operation }, Number(process.hrtime.bigint() - started) / 1e9);
        ConnectorMetrics.operations.inc({ ...this.labels, operation, outcome: 'ok' });
        this.breaker.onSuccess(this.now(), probe);
        settled = true;
        return result;
      } finally {
        if (settledOnTarget) release();
        else {
          // Timed out: the slot stays taken while the call still runs on the target (bounded by another callTimeoutMs).
          let timer: NodeJS.Timeout | undefined;
          const grace = new Promise<void>((r) => (timer = setTimeout(r, this.config.callTimeoutMs)));
          void Promise.race([running, grace]).then(() => {
            clearTimeout(timer);
            release();
          });
        }
      }
    } catch (e) {
      const err = toConnectorError(e);
      ConnectorMetrics.operations.inc({ ...this.labels, operation, outcome: 'error' });
      ConnectorMetrics.errors.inc({ ...this.labels, error_class: err.errorClass, code: err.code });
      if (err.code === ConnectorErrorCode.RateLimited) {
        const wait = err.retryAfterMs ?? 1000;
        this.bucket?.pauseUntil(this.now() + wait);
        this.pausedUntil = Math.max(this.pausedUntil, this.now() + wait);
        this.breaker.onSuccess(this.now(), probe);
      } else if (err.countsAgainstTarget) {
        this.breaker.onFailure(this.now(), probe, err.code);
      } else {
        // The target answered (a data error, a refusal): it is healthy.
        this.breaker.onSuccess(this.now(), probe);
      }
      settled = true;
      throw err;
    } finally {
      if (!settled && probe) this.breaker.releaseProbe();
    }
  }

  // Without a configured bucket, a 429's Retry-After still holds calls back.
  private pausedUntil = 0;

  private async takeToken(): Promise<void> {
    for (;;) {
      const now = this.now();
      const wait = this.bucket ? this.bucket.take(now) : Math.max(0, this.pausedUntil - now);
      if (wait <= 0) return;
      await sleep(Math.min(wait, 1000));
    }
  }

  private timed<T>(fn: () => Promise<T>, operation: string, hold?: (p: Promise<unknown>) => void): Promise<T> {
    const p = fn();
    hold?.(p);
    return withTimeout(p, this.config.callTimeoutMs, () => new ConnectorError(ConnectorErrorCode.Timeout, `${operation} on target ${this.id} took longer than ${this.config.callTimeoutMs} ms`));
  }

  /** Tracks a command from the moment it is taken from the queue until it is settled (queue lag). */
  track(issuedAt: number): () => void {
    const key = Symbol();
    this.pending.set(key, issuedAt);
    ConnectorMetrics.inFlight.set(this.labels, this.pending.size);
    return () => {
      this.pending.delete(key);
      ConnectorMetrics.inFlight.set(this.labels, this.pending.size);
      if (this.pending.size === 0) this.publishLag();
    };
  }

  private oldestAgeSeconds(): number | null {
    let oldest: number | undefined = this.parkedNow.count > 0 ? (this.parkedNow.oldestRecordAt ?? undefined) : undefined;
    for (const at of this.pending.values()) oldest = oldest === undefined ? at : Math.min(oldest, at);
    return oldest === undefined ? null : Math.max(0, (this.now() - oldest) / 1000);
  }

  private publishLag(): void {
    ConnectorMetrics.queueLag.set(this.labels, this.oldestAgeSeconds() ?? 0);
  }

  status(): TargetStatus {
    const last = this.breaker.lastChange;
    const state = this.breaker.state;
    const pausedUntil = Math.max(this.pausedUntil, this.bucket?.pausedUntilMs ?? 0);
    return {
      id: this.id,
      kind: this.kind,
      quarantine: {
        state,
        since: state === 'closed' || !last ? null : new Date(this.breaker.openedAt ?? last.at).toISOString(),
        nextProbeAt: this.breaker.nextProbeAt === null ? null : new Date(this.breaker.nextProbeAt).toISOString(),
        reason: state === 'closed' ? null : (last?.reason ?? null),
      },
      inFlight: this.pending.size,
      oldestCommandAgeSeconds: this.oldestAgeSeconds(),
      rateLimitedUntil: pausedUntil > this.now() ? new Date(pausedUntil).toISOString() : null,
      parked: { count: this.parkedNow.count, oldestParkedAt: this.parkedNow.oldestParkedAt ? this.parkedNow.oldestParkedAt.toISOString() : null },
    };
  }

  /**
   * Health detail (`target:<id>` in GET /health/ready, registered as not affecting readiness):
   * fails while quarantined, else the target must answer a ping.
   */
  async health(): Promise<void> {
    if (this.breaker.state === 'open') {
      const s = this.status();
      throw new Error(`quarantined since ${s.quarantine.since} (${s.quarantine.reason}); next probe ${s.quarantine.nextProbeAt}; ${s.parked.count} command(s) parked`);
    }
    await this.timed(() => this.connector.ping(), 'ping');
  }

  async close(): Promise<void> {
    clearInterval(this.lagTimer);
    await this.connector.close();
  }
}
