import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { JobScheduler } from '@provisio/scheduler';
import { LOGGER, type Logger } from '@provisio/observability';
import type { HrIngestSettings } from '../config.js';
import { PERSONS, SCHEDULER, SETTINGS, WRITER } from '../tokens.js';
import { TRANSITION_JOB, type LifecycleWriter } from './lifecycle-writer.js';
import type { PersonRepository } from './person.repository.js';

/**
 * Effective dating: each person with a future start or end has one pending job (key = personId)
 * due at that instant. When it fires — exactly once, in the scheduler's transaction, on whichever
 * replica claims it — the person is decided again against the clock, which emits the start
 * (JOINER/REHIRE, stage EFFECTIVE) or the LEAVER and schedules the next transition, if any.
 */
@Injectable()
export class TransitionJobs implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(SCHEDULER) private readonly scheduler: JobScheduler,
    @Inject(WRITER) private readonly writer: LifecycleWriter,
    @Inject(PERSONS) private readonly persons: PersonRepository,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.scheduler.register(TRANSITION_JOB, async (job, tx) => {
      const person = await this.persons.lockById(tx.sql, job.key);
      if (!person) {
        this.logger.warn({ personId: job.key }, 'transition job for an unknown person; dropped');
        return;
      }
      // The job may run a little late; the transition takes effect at its own instant.
      await this.writer.applyChange(tx.sql, [person], { type: 'clock' }, { channel: 'SCHEDULER', now: Math.max(Date.now(), job.dueAt.getTime()) });
    });
    if (this.settings.HR_SCHEDULER_POLL_MS > 0) this.scheduler.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.scheduler.stop();
  }
}
