import { Module, type DynamicModule } from '@nestjs/common';
import { checkpointSigner, trustedKeys } from '@provisio/audit-domain';
import type { Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { MESSAGE_BROKER, PlatformModule, kafkaOptionsFromEnv } from '@provisio/platform';
import { toKafkaJsConfig, type MessageBroker } from '@provisio/messaging';
import { logLevel } from 'kafkajs';
import { AccessController } from './api/access.controller.js';
import { AUDIT_QUERIES, AuditQueries } from './api/audit-queries.js';
import { EXPORT_SERVICE, ExportController } from './api/export.controller.js';
import { ExportService } from './api/export.service.js';
import { FailuresController, REPLAY_SERVICE } from './api/failures.controller.js';
import { RecordsController } from './api/records.controller.js';
import { REPLAY_PRODUCER, ReplayProducer } from './api/replay-producer.js';
import { ReplayService } from './api/replay.service.js';
import { TimelineController } from './api/timeline.controller.js';
import { KAFKA_EVIDENCE, VerificationController } from './api/verification.controller.js';
import { AUDIT_CONFIG, AUDIT_OUTPUT_TOPICS, AuditJobs, FEED_PUBLISHER, RETENTION_SERVICE } from './audit-jobs.js';
import { CHAIN_SERVICE, ChainService } from './chain/chain.service.js';
import { KafkaEvidence, verifyGroupId } from './chain/kafka-evidence.js';
import { parseAuditKeys, type AuditConfig } from './config.js';
import { AUDIT_MIGRATIONS } from './migrations/index.js';
import { RetentionService } from './retention/retention.service.js';
import { AuditTopics, FeedPublisher } from './siem/feed-publisher.js';
import { AuditConsumer } from './store/audit.consumer.js';
import { PersonKeyStore } from './store/person-keys.repository.js';
import { RECORD_REPOSITORY, RecordRepository } from './store/record.repository.js';
import { PRODUCT_VERSION } from './version.js';

export { AUDIT_MIGRATIONS };

@Module({})
export class AppModule {
  static forRoot(config: AuditConfig, logger: Logger): DynamicModule {
    const keys = parseAuditKeys(config);
    const signer = checkpointSigner(keys.signingKey);
    const trusted = trustedKeys(keys.trustedPublicKeys);
    const schema = config.DATABASE_SCHEMA;
    // Audit's output topics have no dead-letter topics (nothing consumes them in the platform), so
    // they are created by AuditJobs rather than by the platform (which adds `.dlt` to every topic).
    const topics = [
      { topic: AuditTopics.checkpoints, config: { 'retention.ms': '-1', 'cleanup.policy': 'delete' } },
      ...config.AUDIT_SIEM_FORMATS.map((f) => ({ topic: AuditTopics.siemFor(f) })),
    ];
    return {
      module: AppModule,
      // Migrations run here only with the owner's credentials (local stacks); in production a
      // separate job runs `provisio-audit migrate` and the service checks the schema at start.
      imports: [PlatformModule.forService('audit', config, logger, { migrations: AUDIT_MIGRATIONS, migrate: config.DATABASE_MIGRATION_URL !== undefined, topics: [], outboxRelay: false })],
      controllers: [AuditConsumer, TimelineController, RecordsController, FailuresController, AccessController, ExportController, VerificationController],
      providers: [
        { provide: AUDIT_CONFIG, useValue: config },
        { provide: AUDIT_OUTPUT_TOPICS, useValue: topics },
        { provide: PersonKeyStore, useFactory: () => new PersonKeyStore(schema, keys.piiKek) },
        { provide: RECORD_REPOSITORY, inject: [Database, PersonKeyStore], useFactory: (db: Database, k: PersonKeyStore) => new RecordRepository(db, schema, k, trusted) },
        {
          provide: CHAIN_SERVICE,
          inject: [Database, RECORD_REPOSITORY],
          useFactory: (db: Database, repo: RecordRepository) => new ChainService(db, repo, signer, trusted, logger.child({ component: 'audit-chain' }), config.AUDIT_CHECKPOINT_VERIFY),
        },
        {
          // The Kafka side of GET /v1/verification?kafkaCheckpoints&kafkaOffsets: the service's own
          // connection settings and principal, a client per request (kafkajs logs off: failures
          // answer 503 with the reason).
          provide: KAFKA_EVIDENCE,
          useFactory: () => {
            const k = kafkaOptionsFromEnv('audit', config);
            return new KafkaEvidence({ config: { ...toKafkaJsConfig(k), clientId: `${k.clientId}-verify`, logLevel: logLevel.NOTHING }, topicPrefix: k.topicPrefix }, () => verifyGroupId(k.topicPrefix));
          },
        },
        { provide: AUDIT_QUERIES, inject: [Database, RECORD_REPOSITORY, PersonKeyStore], useFactory: (db: Database, repo: RecordRepository, k: PersonKeyStore) => new AuditQueries(db, repo, k) },
        // Replays produce as their own principal (KAFKA_REPLAY_SASL_*), not as audit's ingest principal.
        { provide: REPLAY_PRODUCER, inject: [MESSAGE_BROKER], useFactory: (b: MessageBroker) => new ReplayProducer(config, b, logger.child({ component: 'audit-replay' })) },
        {
          provide: REPLAY_SERVICE,
          inject: [Database, PersonKeyStore, REPLAY_PRODUCER, RECORD_REPOSITORY],
          useFactory: (db: Database, k: PersonKeyStore, p: ReplayProducer, repo: RecordRepository) => new ReplayService(db, schema, k, p.target, repo),
        },
        {
          provide: EXPORT_SERVICE,
          inject: [RECORD_REPOSITORY, CHAIN_SERVICE, AUDIT_QUERIES],
          useFactory: (repo: RecordRepository, chain: ChainService, q: AuditQueries) => new ExportService(repo, chain, q),
        },
        {
          provide: FEED_PUBLISHER,
          inject: [Database, RECORD_REPOSITORY, CHAIN_SERVICE, PersonKeyStore, MESSAGE_BROKER],
          useFactory: (db: Database, repo: RecordRepository, chain: ChainService, k: PersonKeyStore, b: MessageBroker) =>
            new FeedPublisher(
              db,
              repo,
              chain,
              k,
              b,
              { formats: config.AUDIT_SIEM_FORMATS, privilegeTargetKinds: new Set(config.AUDIT_SIEM_PRIVILEGE_TARGET_KINDS), productVersion: PRODUCT_VERSION },
              logger.child({ component: 'audit-feed' }),
            ),
        },
        {
          provide: RETENTION_SERVICE,
          inject: [RECORD_REPOSITORY, CHAIN_SERVICE],
          useFactory: (repo: RecordRepository, chain: ChainService) =>
            new RetentionService(config.DATABASE_MIGRATION_URL ?? config.DATABASE_URL, repo, chain, signer, trusted, logger.child({ component: 'audit-retention' })),
        },
        AuditJobs,
      ],
    };
  }
}
