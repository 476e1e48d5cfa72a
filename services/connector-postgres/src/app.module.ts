import type { DynamicModule } from '@nestjs/common';
import { ConnectorModule } from '@provisio/connector-kit';
import type { Logger } from '@provisio/observability';
import { postgresTargets, type ConnectorPostgresConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { ConnectorKitV21765000000000 } from './migrations/1765000000000-connector-kit-v2.js';
import { ConnectorKitV31766000000000 } from './migrations/1766000000000-connector-kit-v3.js';
import { PostgresRoleConnector } from './target/postgres-role.connector.js';

/** PostgreSQL roles as accounts, on the connector kit; one service may serve several clusters. */
export const AppModule = {
  forRoot(config: ConnectorPostgresConfig, logger: Logger): DynamicModule {
    return ConnectorModule.forConnector({
      kind: 'postgres',
      config,
      logger,
      migrations: [Init1764000000000, ConnectorKitV21765000000000, ConnectorKitV31766000000000],
      targets: {
        useFactory: () =>
          postgresTargets(config).map((t) => {
            const connector = new PostgresRoleConnector(t);
            // Foreign roles are never adopted; PostgreSQL role names are case-sensitive.
            return { config: t, connector, planOptions: connector.planOptions() };
          }),
      },
    });
  },
};
