import type { PlanOptions, TargetConnector } from '@provisio/connector-domain';
import type { HealthRegistry, Logger } from '@provisio/observability';
import { TargetRuntime, type TargetStatus } from './target-runtime.js';
import type { CommonTargetConfig } from './targets-config.js';

export interface TargetDefinition<T extends CommonTargetConfig = CommonTargetConfig> {
  config: T;
  connector: TargetConnector;
  /** Kind-specific comparison rules (adoption, case-insensitive names, ...). */
  planOptions?: Partial<PlanOptions>;
  namesCaseInsensitive?: boolean;
}

/** The targets one connector service serves, by id. */
export class TargetRegistry {
  private readonly runtimes = new Map<string, TargetRuntime>();

  constructor(
    readonly kind: string,
    definitions: TargetDefinition[],
    logger: Logger,
    health?: HealthRegistry,
  ) {
    for (const d of definitions) {
      const runtime = new TargetRuntime(d.config, kind, d.connector, logger.child({ target: d.config.id }), d.planOptions, d.namesCaseInsensitive ?? false);
      this.runtimes.set(d.config.id, runtime);
      // Detail, not readiness: a quarantined or unreachable target is a designed, self-healing
      // state; failing readiness on it would take every replica out of the Service (and
      // GET /v1/targets with it), stall rollouts and block drains.
      health?.register(`target:${d.config.id}`, () => runtime.health(), { affectsReadiness: false });
    }
    if (definitions.length === 0) logger.warn({ kind }, 'this connector serves no target (CONNECTOR_TARGETS is empty): every command fails as UNKNOWN_TARGET');
    else logger.info({ kind, targets: this.ids() }, 'serving targets');
  }

  get(id: string): TargetRuntime | undefined {
    return this.runtimes.get(id);
  }

  ids(): string[] {
    return [...this.runtimes.keys()];
  }

  all(): TargetRuntime[] {
    return [...this.runtimes.values()];
  }

  status(): TargetStatus[] {
    return this.all().map((r) => r.status());
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((r) => r.close().catch(() => undefined)));
  }
}
