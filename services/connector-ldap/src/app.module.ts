import type { DynamicModule } from '@nestjs/common';
import { ConnectorModule } from '@provisio/connector-kit';
import type { Logger } from '@provisio/observability';
import type { ConnectorLdapConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { ConnectorKitV21765000000000 } from './migrations/1765000000000-connector-kit-v2.js';

export const AppModule = {
  forRoot(config: ConnectorLdapConfig, logger: Logger): DynamicModule {
    return ConnectorModule.forConnector({
      kind: 'ldap',
      config,
      logger,
      migrations: [Init1764000000000, ConnectorKitV21765000000000],
      targets: { useFactory: () => [] },
    });
  },
};
