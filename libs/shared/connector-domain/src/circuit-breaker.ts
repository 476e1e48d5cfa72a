export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Open after this many failures in a row. */
  consecutiveFailures: number;
  /** Or when at least this share of the calls in the window failed ... */
  failureRate: number;
  /** ... and the window holds at least this many calls. */
  minimumCalls: number;
  /** Length of the sliding window of outcomes, in milliseconds. */
  windowMs: number;
  /** First quarantine period; doubles after each failed probe, up to maxOpenMs. */
  openMs: number;
  maxOpenMs: number;
  /** Successful trial calls in half-open state that close the breaker again. */
  closeAfterSuccesses: number;
}

export const DEFAULT_BREAKER: CircuitBreakerOptions = {
  consecutiveFailures: 5,
  failureRate: 0.5,
  minimumCalls: 20,
  windowMs: 60_000,
  openMs: 5_000,
  maxOpenMs: 60_000,
  closeAfterSuccesses: 1,
};

export type Admission = { allowed: true; probe: boolean } | { allowed: false; retryInMs: number };

export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  at: number;
  reason: string;
}

/**
 * Quarantine for one target, as a pure state machine with an injected clock. Closed: every call
 * goes through and outcomes are counted. Open: no call goes through until the quarantine period
 * ends. Half-open: one probe at a time; a success closes the breaker, a failure opens it again
 * for twice as long. Callers that are refused wait and try again — nothing is dropped.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private outcomes: { at: number; ok: boolean }[] = [];
  private openUntil = 0;
  private openPeriod: number;
  private probeInFlight = false;
  private halfOpenSuccesses = 0;
  private lastTransition: BreakerTransition | undefined;
  openedAt: number | null = null;

  constructor(
    private readonly options: CircuitBreakerOptions = DEFAULT_BREAKER,
    private readonly onTransition: (t: BreakerTransition) => void = () => undefined,
  ) {
    this.openPeriod = options.openMs;
  }

  get state(): BreakerState {
    return this.current;
  }

  get nextProbeAt(): number | null {
    return this.current === 'open' ? this.openUntil : null;
  }

  get lastChange(): BreakerTransition | undefined {
    return this.lastTransition;
  }

  admit(now: number): Admission {
    if (this.current === 'closed') return { allowed: true, probe: false };
    if (this.current === 'open') {
      if (now < this.openUntil) return { allowed: false, retryInMs: this.openUntil - now };
      this.transition('half_open', now, 'quarantine period over; probing');
    }
    if (this.probeInFlight) return { allowed: false, retryInMs: Math.max(50, Math.min(1000, this.openPeriod / 10)) };
    this.probeInFlight = true;
    return { allowed: true, probe: true };
  }

  /** The target answered (even with a data error: that says nothing about its health). */
  onSuccess(now: number, probe: boolean): void {
    this.consecutive = 0;
    this.record(now, true);
    if (this.current === 'half_open' && probe) {
      this.probeInFlight = false;
      this.halfOpenSuccesses++;
      if (this.halfOpenSuccesses >= this.options.closeAfterSuccesses) {
        this.openPeriod = this.options.openMs;
        this.outcomes = [];
        this.transition('closed', now, 'probe succeeded');
      }
    }
  }

  /** A failure that says something about the target's health; `cause` (an error code) goes into the reason. */
  onFailure(now: number, probe: boolean, cause?: string): void {
    const why = cause ? `, last: ${cause}` : '';
    this.consecutive++;
    this.record(now, false);
    if (this.current === 'half_open') {
      if (!probe) return;
      this.probeInFlight = false;
      this.openPeriod = Math.min(this.options.maxOpenMs, this.openPeriod * 2);
      this.open(now, `probe failed${why}`);
      return;
    }
    if (this.current !== 'closed') return;
    if (this.consecutive >= this.options.consecutiveFailures) {
      this.open(now, `${this.consecutive} consecutive failures${why}`);
      return;
    }
    const failed = this.outcomes.filter((o) => !o.ok).length;
    if (this.outcomes.length >= this.options.minimumCalls && failed / this.outcomes.length >= this.options.failureRate) {
      this.open(now, `${failed} of the last ${this.outcomes.length} calls failed${why}`);
    }
  }

  /** A probe ended without an answer either way (e.g. the caller was cancelled). */
  releaseProbe(): void {
    this.probeInFlight = false;
  }

  private open(now: number, reason: string): void {
    this.openUntil = now + this.openPeriod;
    this.openedAt ??= now;
    this.halfOpenSuccesses = 0;
    this.transition('open', now, reason);
  }

  private record(now: number, ok: boolean): void {
    this.outcomes.push({ at: now, ok });
    const from = now - this.options.windowMs;
    let drop = 0;
    while (drop < this.outcomes.length && this.outcomes[drop]!.at < from) drop++;
    if (drop > 0) this.outcomes.splice(0, drop);
    if (this.outcomes.length > 10_000) this.outcomes.splice(0, this.outcomes.length - 10_000);
  }

  private transition(to: BreakerState, at: number, reason: string): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    if (to === 'closed') this.openedAt = null;
    this.lastTransition = { from, to, at, reason };
    this.onTransition(this.lastTransition);
  }
}
