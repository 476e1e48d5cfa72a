import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LOGGER, type Logger } from '@provisio/observability';
import { Database, quoteIdent } from '@provisio/persistence';
import { JobScheduler } from '@provisio/scheduler';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PolicyConfig } from '../config.js';
import { PolicyStore, readPolicyPath } from '../policy/policy-store.js';
import { SimulationService } from '../api/simulation.service.js';
import { PolicyEngine, REEVALUATE_JOB } from './policy-engine.js';
import { Reevaluator } from './reevaluator.js';
import { PERSON_STATE, POLICY_CONFIG } from './tokens.js';
import type { PersonStateRepository } from './person-state.repository.js';

/** The sample policy shipped with the service (services/policy/policies/default.yaml). */
export const BUNDLED_POLICY = fileURLToPath(new URL('../../policies/default.yaml', import.meta.url));

/**
 * Start-up and shutdown of the policy engine's background parts: the policy file is loaded (a
 * changed file becomes the active version; an invalid one stops the start), then the timed-work
 * scheduler and the population re-evaluator run until shutdown.
 */
@Injectable()
export class PolicyRuntime implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(POLICY_CONFIG) private readonly config: PolicyConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PERSON_STATE) private readonly persons: PersonStateRepository,
    private readonly db: Database,
    private readonly store: PolicyStore,
    private readonly engine: PolicyEngine,
    private readonly scheduler: JobScheduler,
    private readonly reevaluator: Reevaluator,
    private readonly simulations: SimulationService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const path = this.config.POLICY_PATH ?? (existsSync(BUNDLED_POLICY) ? BUNDLED_POLICY : undefined);
    if (path) {
      const { version, changed } = await this.store.loadAtStart(await readPolicyPath(path));
      this.logger.info({ version, changed }, changed ? 'policy file loaded as a new active version' : 'policy file unchanged; active version kept');
    } else {
      const active = await this.store.activeVersion(this.db.sql);
      this.logger.warn({ active }, 'no POLICY_PATH and no bundled policy: using the active version from the database');
    }
    const zone = await this.store.applyTimeZone();
    if (zone.marked > 0) {
      this.logger.info({ from: zone.previous ?? 'UTC', to: this.store.timeZone.name, persons: zone.marked }, 'policy time zone changed: re-evaluating everyone');
    }
    const table = `${quoteIdent(this.config.DATABASE_SCHEMA)}.persons`;
    this.scheduler.register<Record<string, never>>(REEVALUATE_JOB, async (job, tx, pass) => {
      // Never wait for a person a live transaction holds (it may wait for this job's row): the
      // scheduler defers a job that meets a held lock (lock_not_available) to its next pass,
      // without using up an attempt.
      const locked = await tx.sql.query<{ next_evaluation_at: Date | null }>(`SELECT next_evaluation_at FROM ${table} WHERE person_id = $1 FOR UPDATE NOWAIT`, [
        job.key,
      ]);
      // The HR effective time of what this job does is the instant it was scheduled for: the
      // person's next evaluation time, which a retry after a failure does not move.
      const scheduledFor = locked.rows[0]?.next_evaluation_at?.getTime() ?? null;
      const effectiveAt = scheduledFor !== null && scheduledFor <= job.dueAt.getTime() ? scheduledFor : job.dueAt.getTime();
      const now = Math.max(pass.now.getTime(), job.dueAt.getTime());
      for (const e of await this.persons.expireExceptions(tx.sql, job.key, now)) {
        await this.store.change(
          tx.sql,
          'EXCEPTION_EXPIRED',
          null,
          'system:scheduler',
          'expired',
          { ruleId: e.rule_id },
          { personId: job.key, subjectId: e.id },
        );
      }
      await this.engine.process(tx.sql, [{ personId: job.key, reason: 'scheduled', hrEffectiveAt: effectiveAt }], { now });
    });
    this.scheduler.start();
    this.reevaluator.start();
    this.simulations.startHousekeeping();
  }

  async onApplicationShutdown(): Promise<void> {
    this.simulations.stopHousekeeping();
    await this.reevaluator.stop().catch((e: unknown) => this.logger.warn({ err: e }, 're-evaluator stop failed'));
    await this.scheduler.stop().catch((e: unknown) => this.logger.warn({ err: e }, 'scheduler stop failed'));
    await this.simulations.drain();
  }
}
