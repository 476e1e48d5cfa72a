export interface TokenBucketOptions {
  /** Sustained rate: tokens added per second. */
  ratePerSecond: number;
  /** Bucket size: how many calls may go at once after a quiet period. */
  burst: number;
}

/**
 * A token bucket with an injected clock (milliseconds). `take` either consumes a token and
 * returns 0 or returns how long to wait; `pauseUntil` holds every caller back until a target's
 * Retry-After has passed and then restarts from an empty bucket, so a throttled target is not
 * hit by the whole burst the moment it lets us in again.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private pausedUntil = 0;

  constructor(
    private readonly options: TokenBucketOptions,
    now: number,
  ) {
    if (!(options.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0 (got ${options.ratePerSecond})`);
    if (!(options.burst >= 1)) throw new RangeError(`burst must be >= 1 (got ${options.burst})`);
    this.tokens = options.burst;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    if (now <= this.updatedAt) return;
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.options.ratePerSecond);
    this.updatedAt = now;
  }

  /** 0 when a token was taken; otherwise the milliseconds to wait before trying again. */
  take(now: number): number {
    if (now < this.pausedUntil) return this.pausedUntil - now;
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.options.ratePerSecond) * 1000));
  }

  /** No token is handed out before `until` (a 429's Retry-After); the bucket restarts with one token. */
  pauseUntil(until: number): void {
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.tokens = Math.min(this.tokens, 1);
    this.updatedAt = until;
  }

  get pausedUntilMs(): number {
    return this.pausedUntil;
  }
}
