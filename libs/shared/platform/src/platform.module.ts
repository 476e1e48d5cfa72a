import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { deadLetterTopic } from '@provisio/contracts';
import {
  Inbox,
  KafkaJsBroker,
  KafkaTransport,
  OutboxRelay,
  OutboxWriter,
  withTopicPrefix,
  type ErrorClass,
  type MessageBroker,
} from '@provisio/messaging';
import { AuthModule, authSettingsFromEnv } from '@provisio/auth';
import type { TopicSpec } from '@provisio/messaging';
import { HealthRegistry, LOGGER, ObservabilityModule, type Logger } from '@provisio/observability';
import { Database, isTransientDatabaseError } from '@provisio/persistence';
import { kafkaOptionsFromEnv, type PlatformOptions } from './platform-options.js';
import type { ServiceConfig } from './service-config.js';

export const MESSAGE_BROKER = Symbol('MESSAGE_BROKER');
export const PLATFORM_OPTIONS = Symbol('PLATFORM_OPTIONS');

export function classifyPlatformError(e: unknown): ErrorClass {
  return isTransientDatabaseError(e) ? 'transient' : 'unknown';
}

/** Starts the outbox relay after boot and closes everything in a safe order at shutdown. */
@Injectable()
class PlatformLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions,
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    private readonly db: Database,
    private readonly relay: OutboxRelay,
    private readonly health: HealthRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.health.register('kafka', () => this.broker.ping());
    this.health.register('database', () => this.db.ping());
    const topics = this.options.topics.flatMap((t) => [t, { ...t, topic: deadLetterTopic(t.topic) }]);
    await this.broker.ensureTopics(topics);
    if (this.options.outboxRelay ?? true) this.relay.start();
  }

  // Runs after Nest closed HTTP and the Kafka transport (consumers), so nothing is mid-flight.
  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop().catch((e: unknown) => this.logger.warn({ err: e }, 'relay stop failed'));
    await this.broker.close().catch((e: unknown) => this.logger.warn({ err: e }, 'broker close failed'));
    await this.db.close().catch((e: unknown) => this.logger.warn({ err: e }, 'database close failed'));
  }
}

/**
 * What every service shares: logger, health and metrics, its database schema and migrations,
 * the Kafka broker, outbox, inbox and the Kafka transport for @KafkaSubscribe handlers.
 */
@Global()
@Module({})
export class PlatformModule {
  /** forRoot from a service's validated configuration (serviceConfigSchema), with authentication. */
  static forService(
    service: string,
    config: ServiceConfig,
    logger: Logger,
    parts: Pick<PlatformOptions['database'], 'migrations' | 'entities' | 'migrate'> & { topics: TopicSpec[]; outboxRelay?: boolean; outboxBatchSize?: number },
  ): DynamicModule {
    const root = PlatformModule.forRoot(
      {
        service,
        kafka: kafkaOptionsFromEnv(service, config),
        database: {
          url: config.DATABASE_URL,
          schema: config.DATABASE_SCHEMA,
          poolMax: config.DATABASE_POOL_MAX,
          migrationUrl: config.DATABASE_MIGRATION_URL,
          migrations: parts.migrations,
          ...(parts.migrate === undefined ? {} : { migrate: parts.migrate }),
          ...(parts.entities ? { entities: parts.entities } : {}),
        },
        topics: parts.topics,
        ...(parts.outboxRelay === undefined ? {} : { outboxRelay: parts.outboxRelay }),
        ...(parts.outboxBatchSize === undefined ? {} : { outboxBatchSize: parts.outboxBatchSize }),
      },
      logger,
    );
    return { ...root, imports: [...(root.imports ?? []), AuthModule.forRoot(authSettingsFromEnv(config))] };
  }

  static forRoot(options: PlatformOptions, logger: Logger): DynamicModule {
    return {
      module: PlatformModule,
      imports: [ObservabilityModule.forRoot(logger)],
      providers: [
        { provide: PLATFORM_OPTIONS, useValue: options },
        {
          provide: MESSAGE_BROKER,
          useFactory: () =>
            withTopicPrefix(
              new KafkaJsBroker({
                ...options.kafka,
                logger: logger.child({ component: 'kafka' }),
                ...(options.kafka.defaultPartitions ? { defaultPartitions: options.kafka.defaultPartitions } : {}),
                ...(options.kafka.defaultReplicationFactor ? { defaultReplicationFactor: options.kafka.defaultReplicationFactor } : {}),
              }),
              options.kafka.topicPrefix,
            ),
        },
        {
          provide: Database,
          useFactory: () =>
            Database.open({
              url: options.database.url,
              schema: options.database.schema,
              applicationName: `provisio-${options.service}`,
              migrations: options.database.migrations,
              ...(options.database.entities ? { entities: options.database.entities } : {}),
              ...(options.database.poolMax ? { poolMax: options.database.poolMax } : {}),
              ...(options.database.migrationUrl ? { migrationUrl: options.database.migrationUrl } : {}),
              ...(options.database.migrate === undefined ? {} : { migrate: options.database.migrate }),
            }),
        },
        { provide: OutboxWriter, useFactory: () => new OutboxWriter(options.database.schema, `/provisio/${options.service}`) },
        { provide: Inbox, useFactory: () => new Inbox(options.database.schema) },
        {
          provide: OutboxRelay,
          inject: [Database, MESSAGE_BROKER],
          useFactory: (db: Database, broker: MessageBroker) =>
            new OutboxRelay({
              pool: db.pool,
              schema: options.database.schema,
              broker,
              logger: logger.child({ component: 'outbox-relay' }),
              ...(options.outboxBatchSize ? { batchSize: options.outboxBatchSize } : {}),
            }),
        },
        {
          provide: KafkaTransport,
          inject: [MESSAGE_BROKER],
          useFactory: (broker: MessageBroker) => new KafkaTransport({ broker, logger: logger.child({ component: 'consumer' }), classify: classifyPlatformError }),
        },
        PlatformLifecycle,
      ],
      exports: [PLATFORM_OPTIONS, MESSAGE_BROKER, Database, OutboxWriter, Inbox, OutboxRelay, KafkaTransport],
    };
  }
}
