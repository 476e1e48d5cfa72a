import type { DynamicModule } from '@nestjs/common';
import { ConnectorModule } from '@provisio/connector-kit';
import type { Logger } from '@provisio/observability';
import type { ConnectorScimConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { ConnectorKitV21765000000000 } from './migrations/1765000000000-connector-kit-v2.js';
import { ConnectorKitV31766000000000 } from './migrations/1766000000000-connector-kit-v3.js';
import { ScimConnector } from './scim/scim.connector.js';

/** SCIM 2.0 service providers as targets, on the connector kit; one service may serve several. */
export const AppModule = {
  forRoot(config: ConnectorScimConfig, logger: Logger): DynamicModule {
    return ConnectorModule.forConnector({
      kind: 'scim',
      config,
      logger,
      migrations: [Init1764000000000, ConnectorKitV21765000000000, ConnectorKitV31766000000000],
      targets: {
        useFactory: () =>
          config.CONNECTOR_TARGETS.map((t) => {
            const connector = new ScimConnector(t);
            return { config: t, connector, planOptions: connector.planOptions() };
          }),
      },
    });
  },
};
