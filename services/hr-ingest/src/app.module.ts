import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Topics } from '@provisio/contracts';
import { OutboxWriter } from '@provisio/messaging';
import { LOGGER, type Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { PlatformModule } from '@provisio/platform';
import { JobScheduler } from '@provisio/scheduler';
import type { HrIngestSettings } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { Lifecycle1765000000000 } from './migrations/1765000000000-lifecycle.js';
import { AttributeStamps1766000000000 } from './migrations/1766000000000-attribute-stamps.js';
import { SnapshotPresentIds1767000000000 } from './migrations/1767000000000-snapshot-present-ids.js';
import { FutureSourceTimes1768000000000 } from './migrations/1768000000000-future-source-times.js';
import { WebhookReplayPerSource1769000000000 } from './migrations/1769000000000-webhook-replay-per-source.js';
import { LifecycleWriter } from './persons/lifecycle-writer.js';
import { PersonRepository } from './persons/person.repository.js';
import { TransitionJobs } from './persons/transition.jobs.js';
import { ScimExceptionFilter } from './scim/scim-exception.filter.js';
import { ScimUsersService } from './scim/scim-users.service.js';
import { ScimController } from './scim/scim.controller.js';
import { SnapshotProcessor } from './snapshots/snapshot-processor.js';
import { SnapshotUploadService } from './snapshots/snapshot-upload.service.js';
import { SnapshotRepository } from './snapshots/snapshot.repository.js';
import { SnapshotsController } from './snapshots/snapshots.controller.js';
import { PERSONS, SCHEDULER, SETTINGS, SNAPSHOTS, WRITER } from './tokens.js';
import { WebhookDeliveriesPruner } from './webhook/webhook-deliveries.pruner.js';
import { WebhookController } from './webhook/webhook.controller.js';
import { WorkersController } from './workers/workers.controller.js';
import { WorkersService } from './workers/workers.service.js';

@Module({})
export class AppModule {
  static forRoot(config: HrIngestSettings, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService('hr-ingest', config, logger, {
          migrations: [Init1764000000000, Lifecycle1765000000000, AttributeStamps1766000000000, SnapshotPresentIds1767000000000, FutureSourceTimes1768000000000, WebhookReplayPerSource1769000000000],
          topics: [{ topic: Topics.lifecycle }],
          // Snapshots emit in bulk: larger relay passes publish them sooner.
          outboxBatchSize: 2000,
        }),
      ],
      controllers: [WorkersController, WebhookController, ScimController, SnapshotsController],
      providers: [
        { provide: SETTINGS, useValue: config },
        { provide: PERSONS, useValue: new PersonRepository(config.DATABASE_SCHEMA) },
        { provide: SNAPSHOTS, useValue: new SnapshotRepository(config.DATABASE_SCHEMA) },
        {
          provide: SCHEDULER,
          inject: [Database, LOGGER],
          useFactory: (db: Database, log: Logger) =>
            new JobScheduler({ db, schema: config.DATABASE_SCHEMA, logger: log.child({ component: 'scheduler' }), pollIntervalMs: config.HR_SCHEDULER_POLL_MS }),
        },
        {
          provide: WRITER,
          inject: [PERSONS, OutboxWriter, SCHEDULER],
          useFactory: (persons: PersonRepository, outbox: OutboxWriter, scheduler: JobScheduler) => new LifecycleWriter(persons, outbox, scheduler, config.policy),
        },
        TransitionJobs,
        WebhookDeliveriesPruner,
        WorkersService,
        ScimUsersService,
        SnapshotProcessor,
        SnapshotUploadService,
        { provide: APP_FILTER, useClass: ScimExceptionFilter },
      ],
    };
  }
}
