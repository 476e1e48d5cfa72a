import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { LOGGER, type Logger } from '@provisio/observability';
import { Database, quoteIdent } from '@provisio/persistence';
import type { HrIngestSettings } from '../config.js';
import { SETTINGS } from '../tokens.js';

/**
 * Forgets delivered webhook ids after WEBHOOK_REPLAY_RETENTION_HOURS. A replay older than the
 * signature's timestamp tolerance is refused by the timestamp check anyway, so the retention
 * only has to outlast that window (it does so by a wide margin).
 */
@Injectable()
export class WebhookDeliveriesPruner implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.prune(), 10 * 60_000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async prune(): Promise<number> {
    try {
      const r = await this.db.sql.query(`DELETE FROM ${quoteIdent(this.settings.DATABASE_SCHEMA)}.webhook_deliveries WHERE received_at < now() - make_interval(hours => $1)`, [
        this.settings.WEBHOOK_REPLAY_RETENTION_HOURS,
      ]);
      return r.rowCount ?? 0;
    } catch (e) {
      this.logger.warn({ err: e }, 'pruning webhook delivery ids failed; will retry');
      return 0;
    }
  }
}
