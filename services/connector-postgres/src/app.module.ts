import { Inject, Injectable, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ConnectorModule } from '@provisio/connector-kit';
import { HealthRegistry, type Logger } from '@provisio/observability';
import pg from 'pg';
import type { ConnectorPostgresConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { PostgresRoleConverger } from './target/postgres-role.converger.js';

const TARGET_POOL = Symbol('TARGET_POOL');

@Injectable()
class TargetPoolLifecycle implements OnApplicationShutdown {
  constructor(@Inject(TARGET_POOL) private readonly pool: pg.Pool) {}
  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

export const AppModule = {
  forRoot(config: ConnectorPostgresConfig, logger: Logger): DynamicModule {
    return ConnectorModule.forConnector({
      kind: 'postgres',
      config,
      logger,
      migrations: [Init1764000000000],
      providers: [
        {
          provide: TARGET_POOL,
          inject: [HealthRegistry],
          useFactory: (health: HealthRegistry) => {
            const pool = new pg.Pool({ connectionString: config.TARGET_POSTGRES_URL, max: config.TARGET_POSTGRES_POOL_MAX, application_name: 'provisio-connector-postgres' });
            pool.on('error', (e) => logger.warn({ err: e }, 'target pool error'));
            health.register(`target:${config.TARGET_POSTGRES_ID}`, async () => void (await pool.query('SELECT 1')));
            return pool;
          },
        },
        TargetPoolLifecycle,
      ],
      converger: { inject: [TARGET_POOL], useFactory: (pool: pg.Pool) => new PostgresRoleConverger(pool) },
    });
  },
};
