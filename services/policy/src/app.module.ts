import { Module, type DynamicModule } from '@nestjs/common';
import { Topics } from '@provisio/contracts';
import { OutboxWriter } from '@provisio/messaging';
import { LOGGER, type Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { PlatformModule } from '@provisio/platform';
import { TimeZone } from '@provisio/policy-domain';
import { JobScheduler } from '@provisio/scheduler';
import { AssignmentsController } from './api/assignments.controller.js';
import { ExplainController } from './api/explain.controller.js';
import { PolicyApiErrorFilter } from './api/policy-api-error.filter.js';
import { PolicyVersionsController } from './api/policy-versions.controller.js';
import { SimulationService } from './api/simulation.service.js';
import { SimulationsController } from './api/simulations.controller.js';
import { SodController } from './api/sod.controller.js';
import type { PolicyConfig } from './config.js';
import { LifecycleConsumer } from './engine/lifecycle.consumer.js';
import { LiveWork } from './engine/live-work.js';
import { PersonStateRepository } from './engine/person-state.repository.js';
import { PolicyEngine } from './engine/policy-engine.js';
import { PolicyRuntime } from './engine/policy-runtime.js';
import { Reevaluator } from './engine/reevaluator.js';
import { PERSON_STATE, POLICY_CONFIG } from './engine/tokens.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { PolicyEngine1764100000000 } from './migrations/1764100000000-policy-engine.js';
import { PolicyBulk1764200000000 } from './migrations/1764200000000-policy-bulk.js';
import { PolicyStore } from './policy/policy-store.js';
import { APP_FILTER } from '@nestjs/core';

/** Every target kind the bundled connectors serve; commands for other kinds get their topic on first use. */
export const TARGET_KINDS = ['postgres', 'ldap', 'scim'];

@Module({})
export class AppModule {
  static forRoot(config: PolicyConfig, logger: Logger): DynamicModule {
    const schema = config.DATABASE_SCHEMA;
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService('policy', config, logger, {
          migrations: [Init1764000000000, PolicyEngine1764100000000, PolicyBulk1764200000000],
          topics: [
            { topic: Topics.lifecycle },
            { topic: Topics.results },
            { topic: Topics.policyDecisions },
            { topic: Topics.policyViolations },
            { topic: Topics.policyChanges },
            ...TARGET_KINDS.map((k) => ({ topic: Topics.commands(k) })),
          ],
          outboxBatchSize: config.POLICY_OUTBOX_BATCH,
        }),
      ],
      controllers: [LifecycleConsumer, PolicyVersionsController, ExplainController, SimulationsController, AssignmentsController, SodController],
      providers: [
        { provide: POLICY_CONFIG, useValue: config },
        { provide: PERSON_STATE, useValue: new PersonStateRepository(schema) },
        { provide: APP_FILTER, useClass: PolicyApiErrorFilter },
        LiveWork,
        {
          provide: PolicyStore,
          inject: [Database, OutboxWriter],
          useFactory: (db: Database, outbox: OutboxWriter) => new PolicyStore(db, outbox, schema, TimeZone.of(config.POLICY_TIME_ZONE)),
        },
        {
          provide: JobScheduler,
          inject: [Database, LOGGER],
          useFactory: (db: Database, log: Logger) =>
            new JobScheduler({ db, schema, logger: log.child({ component: 'scheduler' }), pollIntervalMs: config.POLICY_SCHEDULER_POLL_MS }),
        },
        {
          provide: PolicyEngine,
          inject: [PolicyStore, PERSON_STATE, OutboxWriter, JobScheduler],
          useFactory: (store: PolicyStore, persons: PersonStateRepository, outbox: OutboxWriter, scheduler: JobScheduler) =>
            new PolicyEngine(store, persons, outbox, scheduler, store.timeZone),
        },
        {
          provide: Reevaluator,
          inject: [Database, PolicyStore, PERSON_STATE, PolicyEngine, LiveWork, LOGGER],
          useFactory: (db: Database, store: PolicyStore, persons: PersonStateRepository, engine: PolicyEngine, live: LiveWork, log: Logger) =>
            new Reevaluator(db, store, persons, engine, live, log.child({ component: 'reevaluator' }), {
              batchSize: config.POLICY_REEVALUATION_BATCH,
              pauseMs: config.POLICY_REEVALUATION_PAUSE_MS,
              concurrency: config.POLICY_REEVALUATION_CONCURRENCY,
            }),
        },
        {
          provide: SimulationService,
          inject: [Database, PolicyStore, PERSON_STATE, LOGGER],
          useFactory: (db: Database, store: PolicyStore, persons: PersonStateRepository, log: Logger) =>
            new SimulationService(db, store, persons, schema, log.child({ component: 'simulation' }), config.POLICY_SIMULATION_RETENTION_DAYS),
        },
        PolicyRuntime,
      ],
    };
  }
}
