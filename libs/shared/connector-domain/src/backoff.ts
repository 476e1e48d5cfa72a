export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, multiplier: 2 };

/**
 * Exponential backoff with "equal jitter": half the exponential delay is fixed, half random, so
 * retries of many commands spread out instead of hitting a recovering target together.
 * `attempt` counts from 1; `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.initialMs * o.multiplier ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

/** The wait before the next attempt: the target's or breaker's hint when it gave one (plus a little jitter), else backoff. */
export function retryDelay(attempt: number, hintMs: number | undefined, o: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  if (hintMs !== undefined && hintMs >= 0) return Math.round(hintMs + random() * Math.min(1000, 50 + hintMs * 0.1));
  return backoffDelay(attempt, o, random);
}
