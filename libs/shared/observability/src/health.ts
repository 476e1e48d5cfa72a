export type HealthCheck = () => Promise<void>;

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, { status: 'up' | 'down'; error?: string; ms: number }>;
}

/**
 * Readiness checks that components register (broker, database, targets). Liveness never
 * consults them: a pod must not be restarted because a dependency is down.
 */
export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly timeoutMs: number;

  constructor(timeoutMs = 3000) {
    this.timeoutMs = timeoutMs;
  }

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  async readiness(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        const started = Date.now();
        try {
          await withTimeout(check(), this.timeoutMs);
          return [name, { status: 'up' as const, ms: Date.now() - started }] as const;
        } catch (e) {
          return [name, { status: 'down' as const, error: (e as Error).message.slice(0, 200), ms: Date.now() - started }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { status: entries.every(([, r]) => r.status === 'up') ? 'ok' : 'unavailable', checks };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
