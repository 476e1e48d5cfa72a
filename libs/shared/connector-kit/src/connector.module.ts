import { Controller, Inject, Injectable, Module, type DynamicModule, type InjectionToken, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider, type Type } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { Topics, type ProvisioningCommand } from '@provisio/contracts';
import { KafkaSubscribe, OutboxWriter, type ConsumeContext, type ConsumedMessage, type MessageBroker } from '@provisio/messaging';
import { HealthRegistry, LOGGER, type Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { MESSAGE_BROKER, PlatformModule, type ServiceConfig } from '@provisio/platform';
import type { MigrationInterface } from 'typeorm';
import { AppliedStateRepository } from './applied-state.repository.js';
import { CommandProcessor } from './command-processor.js';
import { ParkedCommandsRepository } from './parked-commands.repository.js';
import { ParkedCommandDrainer } from './parked-drainer.js';
import { ReconcileScheduler } from './reconcile-scheduler.js';
import { Reconciler } from './reconciler.js';
import { ResultWriter } from './result-writer.js';
import { TargetRegistry, type TargetDefinition } from './target-registry.js';
import { RECONCILER, TARGET_REGISTRY, TargetsController } from './targets.controller.js';

export const COMMAND_PROCESSOR = Symbol('COMMAND_PROCESSOR');
const SCHEDULER = Symbol('RECONCILE_SCHEDULER');
const DRAINER = Symbol('PARKED_COMMAND_DRAINER');

/** The @KafkaSubscribe controller that feeds a target kind's commands to the kit (a partition's batch at a time). */
export function commandsConsumerFor(kind: string): Type {
  @Controller()
  class CommandsConsumer {
    constructor(@Inject(COMMAND_PROCESSOR) private readonly processor: CommandProcessor) {}

    @KafkaSubscribe({ group: `connector-${kind}`, topics: [Topics.commands(kind)], schema: 'ProvisioningCommand', mode: 'batch' })
    async onCommands(@Payload() messages: ConsumedMessage<ProvisioningCommand>[], @Ctx() ctx: ConsumeContext): Promise<void> {
      await this.processor.processBatch(messages, ctx);
    }
  }
  Object.defineProperty(CommandsConsumer, 'name', { value: `${kind[0]!.toUpperCase()}${kind.slice(1)}CommandsConsumer` });
  return CommandsConsumer;
}

@Injectable()
class ConnectorLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(SCHEDULER) private readonly scheduler: ReconcileScheduler,
    @Inject(RECONCILER) private readonly reconciler: Reconciler,
    @Inject(TARGET_REGISTRY) private readonly targets: TargetRegistry,
    @Inject(DRAINER) private readonly drainer: ParkedCommandDrainer,
  ) {}

  onApplicationBootstrap(): void {
    this.scheduler.start();
    this.drainer.start();
  }

  // Runs after the Kafka transport stopped: no command is in work any more.
  async onApplicationShutdown(): Promise<void> {
    this.scheduler.stop();
    await this.drainer.stop();
    await this.reconciler.drain();
    await this.targets.close();
  }
}

export interface ConnectorModuleOptions {
  /** Target kind: ldap, scim, postgres, ... (topic provisioning.commands.<kind>). */
  kind: string;
  config: ServiceConfig;
  logger: Logger;
  migrations: (new () => MigrationInterface)[];
  /** Builds the targets (connector + settings) this service serves; may inject the service's providers. */
  targets: { inject?: InjectionToken[]; useFactory: (...deps: never[]) => TargetDefinition[] | Promise<TargetDefinition[]> };
  providers?: Provider[];
  /** Persons of one batch converged concurrently (default 64). */
  maxParallelPersons?: number;
  /**
   * Least time between the starts of two result flushes while commands keep settling (default
   * 10 ms): against a slow target each flush, and the relay pass and Kafka send it wakes, then
   * carries several commands rather than one or two. A command after a quiet spell is flushed at once.
   */
  resultFlushIntervalMs?: number;
}

@Module({})
export class ConnectorModule {
  /** A connector service: the platform, the kind's command consumer, the kit's processor, reconciliation and the targets API. */
  static forConnector(o: ConnectorModuleOptions): DynamicModule {
    const schema = o.config.DATABASE_SCHEMA;
    return {
      module: ConnectorModule,
      imports: [
        PlatformModule.forService(`connector-${o.kind}`, o.config, o.logger, {
          migrations: o.migrations,
          topics: [{ topic: Topics.commands(o.kind) }, { topic: Topics.results }, { topic: Topics.drift }],
        }),
      ],
      controllers: [commandsConsumerFor(o.kind), TargetsController],
      providers: [
        ...(o.providers ?? []),
        { provide: AppliedStateRepository, useFactory: () => new AppliedStateRepository(schema) },
        { provide: ParkedCommandsRepository, useFactory: () => new ParkedCommandsRepository(schema) },
        {
          provide: TARGET_REGISTRY,
          inject: [HealthRegistry, LOGGER, ...(o.targets.inject ?? [])],
          useFactory: async (health: HealthRegistry, logger: Logger, ...deps: unknown[]) =>
            new TargetRegistry(o.kind, await (o.targets.useFactory as (...d: unknown[]) => TargetDefinition[] | Promise<TargetDefinition[]>)(...deps), logger.child({ component: 'targets' }), health),
        },
        {
          provide: ResultWriter,
          inject: [Database, OutboxWriter, AppliedStateRepository],
          useFactory: (db: Database, outbox: OutboxWriter, applied: AppliedStateRepository) => new ResultWriter(db, outbox, applied, 500, o.resultFlushIntervalMs ?? 10),
        },
        {
          provide: COMMAND_PROCESSOR,
          inject: [Database, AppliedStateRepository, ResultWriter, TARGET_REGISTRY, LOGGER, ParkedCommandsRepository, MESSAGE_BROKER],
          useFactory: (db: Database, applied: AppliedStateRepository, results: ResultWriter, targets: TargetRegistry, logger: Logger, parked: ParkedCommandsRepository, broker: MessageBroker) =>
            new CommandProcessor(db, applied, results, targets, logger.child({ component: 'commands' }), { maxParallelPersons: o.maxParallelPersons ?? 64 }, parked, broker),
        },
        {
          provide: DRAINER,
          inject: [Database, ParkedCommandsRepository, COMMAND_PROCESSOR, TARGET_REGISTRY, LOGGER],
          useFactory: (db: Database, parked: ParkedCommandsRepository, processor: CommandProcessor, targets: TargetRegistry, logger: Logger) =>
            new ParkedCommandDrainer(db, parked, processor, targets, logger.child({ component: 'parked-commands' })),
        },
        {
          provide: RECONCILER,
          inject: [Database, OutboxWriter, AppliedStateRepository, TARGET_REGISTRY, COMMAND_PROCESSOR, LOGGER],
          useFactory: (db: Database, outbox: OutboxWriter, applied: AppliedStateRepository, targets: TargetRegistry, processor: CommandProcessor, logger: Logger) =>
            new Reconciler(db, outbox, applied, targets, processor.locks, logger.child({ component: 'reconciler' }), schema),
        },
        {
          provide: SCHEDULER,
          inject: [RECONCILER, TARGET_REGISTRY, LOGGER],
          useFactory: (reconciler: Reconciler, targets: TargetRegistry, logger: Logger) => new ReconcileScheduler(reconciler, targets, logger.child({ component: 'reconcile-scheduler' })),
        },
        ConnectorLifecycle,
      ],
      exports: [TARGET_REGISTRY, RECONCILER, COMMAND_PROCESSOR],
    };
  }
}
