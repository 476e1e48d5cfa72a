import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { HealthRegistry, LOGGER, type Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { MESSAGE_BROKER } from '@provisio/platform';
import type { MessageBroker, TopicSpec } from '@provisio/messaging';
import { CHAIN_SERVICE, type ChainService } from './chain/chain.service.js';
import type { AuditConfig } from './config.js';
import type { RetentionService } from './retention/retention.service.js';
import type { FeedPublisher } from './siem/feed-publisher.js';
import { AUDIT_MIGRATIONS } from './migrations/index.js';
import { checkRuntimePrivileges, grantRuntimePrivileges, pendingMigrations, type PrivilegeReport } from './store/audit-privileges.js';
import { RECORD_REPOSITORY, type RecordRepository } from './store/record.repository.js';

export const AUDIT_CONFIG = Symbol('AUDIT_CONFIG');
export const AUDIT_OUTPUT_TOPICS = Symbol('AUDIT_OUTPUT_TOPICS');
export const FEED_PUBLISHER = Symbol('FEED_PUBLISHER');
export const RETENTION_SERVICE = Symbol('RETENTION_SERVICE');

export class LeastPrivilegeError extends Error {
  constructor(report: PrivilegeReport) {
    super(`the audit runtime role is not least-privileged: ${report.problems.join('; ')}`);
    this.name = 'LeastPrivilegeError';
  }
}

export class SchemaNotMigratedError extends Error {
  constructor(schema: string, pending: string[]) {
    super(`the audit schema ${schema} is not migrated (pending: ${pending.join(', ')}): run \`provisio-audit migrate\` with the owner's credentials (DATABASE_MIGRATION_URL), or give the service DATABASE_MIGRATION_URL to migrate at start`);
    this.name = 'SchemaNotMigratedError';
  }
}

/**
 * Audit's background work: runtime-role grants at start, monthly partitions, periodic signed
 * checkpoints, the checkpoint and SIEM feeds, and retention.
 */
@Injectable()
export class AuditJobs implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private stopping = false;
  privileges: PrivilegeReport | undefined;

  constructor(
    @Inject(AUDIT_CONFIG) private readonly config: AuditConfig,
    private readonly db: Database,
    @Inject(RECORD_REPOSITORY) private readonly repo: RecordRepository,
    @Inject(CHAIN_SERVICE) private readonly chain: ChainService,
    @Inject(FEED_PUBLISHER) private readonly feed: FeedPublisher,
    @Inject(RETENTION_SERVICE) private readonly retention: RetentionService,
    private readonly health: HealthRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    @Inject(AUDIT_OUTPUT_TOPICS) private readonly outputTopics: TopicSpec[],
  ) {}

  async onModuleInit(): Promise<void> {
    const who = await this.db.sql.query<{ role: string }>('SELECT current_user AS role');
    const runtimeRole = who.rows[0]!.role;
    const ownerUrl = this.config.DATABASE_MIGRATION_URL;
    if (ownerUrl && ownerUrl !== this.config.DATABASE_URL) {
      await grantRuntimePrivileges(ownerUrl, this.config.DATABASE_SCHEMA, runtimeRole);
    }
    if (!ownerUrl) {
      // Without the owner's credentials the service neither migrates nor grants: a separate job
      // did (`provisio-audit migrate`). Refuse to run on a schema it does not know.
      const pending = await pendingMigrations((sql, params) => this.db.sql.query(sql, params), this.config.DATABASE_SCHEMA, AUDIT_MIGRATIONS.map((m) => new m().name));
      if (pending.length > 0) throw new SchemaNotMigratedError(this.config.DATABASE_SCHEMA, pending);
    }
    this.privileges = await checkRuntimePrivileges((sql, params) => this.db.sql.query(sql, params), this.config.DATABASE_SCHEMA);
    if (!this.privileges.leastPrivilege) {
      if (this.config.AUDIT_REQUIRE_LEAST_PRIVILEGE) throw new LeastPrivilegeError(this.privileges);
      this.logger.warn(
        { problems: this.privileges.problems },
        'audit runs with a database role that can change audit rows; only the triggers and the hash chain protect them. Set DATABASE_MIGRATION_URL to the owner and DATABASE_URL to a role of its own (docs/audit.md).',
      );
    }
    await this.repo.ensurePartitions();
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.broker.ensureTopics(this.outputTopics);
    } catch (e) {
      // Clusters with ACLs create topics ahead (kafka-admin); publishing retries until they exist.
      this.logger.warn({ err: e, topics: this.outputTopics.map((t) => t.topic) }, 'could not create audit output topics; they must be created by the cluster admin');
    }
    this.health.register('audit-store', async () => {
      await this.repo.head();
    });
    this.every(this.config.AUDIT_CHECKPOINT_INTERVAL_MS, 'checkpoint', () => this.chain.checkpoint());
    this.every(this.config.AUDIT_SIEM_POLL_MS, 'feeds', () => this.feed.publishOnce());
    this.every(3_600_000, 'partitions', () => this.repo.ensurePartitions());
    if (this.config.AUDIT_RETENTION_MONTHS !== undefined) {
      const months = this.config.AUDIT_RETENTION_MONTHS;
      this.every(6 * 3_600_000, 'retention', () => this.retention.apply(months), true);
    }
  }

  // Before the platform closes the broker and the pool.
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.allSettled([...this.running]);
    // Sign what was appended up to now, so a restart leaves no unsigned tail behind.
    await this.chain.checkpoint().catch((e: unknown) => this.logger.warn({ err: e }, 'final audit checkpoint failed'));
    await this.feed.publishOnce().catch((e: unknown) => this.logger.warn({ err: e }, 'final audit feed publish failed'));
  }

  private every(ms: number, what: string, job: () => Promise<unknown>, runNow = false): void {
    const tick = () => {
      if (this.stopping) return;
      const p = job()
        .catch((e: unknown) => this.logger.warn({ err: e, job: what }, 'audit job failed; will retry'))
        .finally(() => {
          this.running.delete(p);
          if (!this.stopping) this.timers.push(setTimeout(tick, ms).unref());
        });
      this.running.add(p);
    };
    this.timers.push(setTimeout(tick, runNow ? 0 : ms).unref());
  }
}
