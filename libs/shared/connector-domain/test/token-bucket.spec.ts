import { describe, expect, it } from '@jest/globals';
import { TokenBucket, backoffDelay, parseRetryAfter, retryDelay } from '../src/index.js';

describe('TokenBucket', () => {
  it('lets a burst through, then paces calls at the sustained rate', () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 3 }, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0]);
    expect(b.take(0)).toBe(100);
    expect(b.take(50)).toBe(50);
    expect(b.take(100)).toBe(0);
    expect(b.take(100)).toBe(100);
  });

  it('never holds more than the burst after a quiet period', () => {
    const b = new TokenBucket({ ratePerSecond: 100, burst: 2 }, 0);
    b.take(0);
    b.take(0);
    expect([b.take(60_000), b.take(60_000), b.take(60_000) > 0]).toEqual([0, 0, true]);
  });

  it('holds everyone back until Retry-After has passed, then restarts gently', () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 5 }, 0);
    b.pauseUntil(2000);
    expect(b.take(500)).toBe(1500);
    expect(b.take(2000)).toBe(0);
    expect(b.take(2000)).toBeGreaterThan(0);
  });

  it('rejects nonsense settings with a clear message', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0, burst: 1 }, 0)).toThrow(/ratePerSecond must be > 0/);
    expect(() => new TokenBucket({ ratePerSecond: 1, burst: 0 }, 0)).toThrow(/burst must be >= 1/);
  });
});

describe('backoff and Retry-After', () => {
  it('grows exponentially with jitter inside [base/2, base], capped', () => {
    const o = { initialMs: 100, maxMs: 1000, multiplier: 2 };
    expect(backoffDelay(1, o, () => 0)).toBe(50);
    expect(backoffDelay(1, o, () => 1)).toBe(100);
    expect(backoffDelay(3, o, () => 1)).toBe(400);
    expect(backoffDelay(20, o, () => 1)).toBe(1000);
    expect(backoffDelay(20, o, () => 0)).toBe(500);
  });

  it('prefers the hint (Retry-After, quarantine end) over backoff', () => {
    expect(retryDelay(7, 2000, undefined, () => 0)).toBe(2000);
    expect(retryDelay(7, 2000, undefined, () => 1)).toBeLessThanOrEqual(2250);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
