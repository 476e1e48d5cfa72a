export type HealthCheck = () => Promise<void>;

export interface HealthCheckOptions {
  /**
   * Whether a failure makes the pod not ready (default true). Checks of things the pod can still
   * serve without (a connector's target: quarantined or unreachable is a designed, self-healing
   * state) pass `false`: they are reported as `degraded` and readiness stays 200, so one bad
   * target never takes every replica out of its Service, stalls a rollout or blocks a drain.
   */
  affectsReadiness?: boolean;
}

export interface ReadinessReport {
  /** `unavailable` (503) when a readiness check fails; `degraded` (200) when only informational ones do. */
  status: 'ok' | 'degraded' | 'unavailable';
  checks: Record<string, { status: 'up' | 'down' | 'degraded'; error?: string; ms: number }>;
}

/**
 * Checks that components register (broker, database, targets). Readiness fails only on the ones
 * that affect it; the others are detail for operators. Liveness never consults any: a pod must
 * not be restarted because a dependency is down.
 */
export class HealthRegistry {
  private readonly checks = new Map<string, { check: HealthCheck; affectsReadiness: boolean }>();
  private readonly timeoutMs: number;

  constructor(timeoutMs = 3000) {
    this.timeoutMs = timeoutMs;
  }

  register(name: string, check: HealthCheck, options: HealthCheckOptions = {}): void {
    this.checks.set(name, { check, affectsReadiness: options.affectsReadiness ?? true });
  }

  async readiness(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, { check, affectsReadiness }]) => {
        const started = Date.now();
        try {
          await withTimeout(check(), this.timeoutMs);
          return [name, { status: 'up' as const, ms: Date.now() - started }] as const;
        } catch (e) {
          return [name, { status: affectsReadiness ? ('down' as const) : ('degraded' as const), error: (e as Error).message.slice(0, 200), ms: Date.now() - started }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const status = entries.some(([, r]) => r.status === 'down') ? 'unavailable' : entries.some(([, r]) => r.status === 'degraded') ? 'degraded' : 'ok';
    return { status, checks };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
