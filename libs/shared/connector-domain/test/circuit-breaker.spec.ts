import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker, type BreakerTransition } from '../src/index.js';

const opts = { consecutiveFailures: 3, failureRate: 0.5, minimumCalls: 10, windowMs: 10_000, openMs: 1000, maxOpenMs: 4000, closeAfterSuccesses: 1 };

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, refuses calls while open, and says when to come back', () => {
    const transitions: BreakerTransition[] = [];
    const b = new CircuitBreaker(opts, (t) => transitions.push(t));
    for (let i = 0; i < 3; i++) b.onFailure(i, false);
    expect(b.state).toBe('open');
    expect(b.admit(500)).toEqual({ allowed: false, retryInMs: 502 });
    expect(transitions.map((t) => t.to)).toEqual(['open']);
    expect(transitions[0]!.reason).toMatch(/3 consecutive failures/);
  });

  it('opens on a failure share over the window even without a streak', () => {
    const b = new CircuitBreaker(opts);
    for (let i = 0; i < 11; i++) {
      if (i % 2 === 0) b.onFailure(i, false);
      else b.onSuccess(i, false);
    }
    expect(b.state).toBe('open');
  });

  it('forgets outcomes older than the window', () => {
    const b = new CircuitBreaker(opts);
    for (let i = 0; i < 11; i++) {
      if (i % 2 === 0) b.onFailure(i, false);
      else b.onSuccess(i, false);
    }
    const c = new CircuitBreaker(opts);
    for (let i = 0; i < 5; i++) {
      c.onFailure(i * 3000, false);
      c.onSuccess(i * 3000 + 1, false);
    }
    expect(c.state).toBe('closed');
    expect(b.state).toBe('open');
  });

  it('lets one probe through after the quarantine period; success closes, resuming by itself', () => {
    const b = new CircuitBreaker(opts);
    for (let i = 0; i < 3; i++) b.onFailure(0, false);
    const probe = b.admit(1000);
    expect(probe).toEqual({ allowed: true, probe: true });
    expect(b.state).toBe('half_open');
    expect(b.admit(1001).allowed).toBe(false);
    b.onSuccess(1100, true);
    expect(b.state).toBe('closed');
    expect(b.admit(1101)).toEqual({ allowed: true, probe: false });
  });

  it('a failed probe reopens for twice as long, capped', () => {
    const b = new CircuitBreaker(opts);
    for (let i = 0; i < 3; i++) b.onFailure(0, false);
    let now = 1000;
    const periods: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect(b.admit(now).allowed).toBe(true);
      b.onFailure(now, true);
      const r = b.admit(now);
      periods.push(r.allowed ? 0 : r.retryInMs);
      now += periods.at(-1)!;
    }
    expect(periods).toEqual([2000, 4000, 4000, 4000]);
  });

  it('ignores failures of non-probe calls that were already in flight when it half-opened', () => {
    const b = new CircuitBreaker(opts);
    for (let i = 0; i < 3; i++) b.onFailure(0, false);
    b.admit(1000);
    b.onFailure(1001, false);
    expect(b.state).toBe('half_open');
  });
});
