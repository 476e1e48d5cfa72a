/**
 * Counts live work (lifecycle events, API changes) in flight in this process, so background
 * re-evaluation can step aside: live events are never starved by a population re-evaluation.
 */
export class LiveWork {
  private inFlight = 0;
  private lastActivity = 0;

  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.lastActivity = Date.now();
    try {
      return await fn();
    } finally {
      this.inFlight--;
      this.lastActivity = Date.now();
    }
  }

  /** True while live work runs or ran within the last `quietMs`. */
  busy(quietMs: number): boolean {
    return this.inFlight > 0 || Date.now() - this.lastActivity < quietMs;
  }
}
