import type { DynamicModule } from '@nestjs/common';
import { ConnectorModule, NotImplementedConverger } from '@provisio/connector-kit';
import type { Logger } from '@provisio/observability';
import type { ConnectorLdapConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';

/** Walking skeleton: consumes ldap commands and reports NOT_IMPLEMENTED results. */
export const AppModule = {
  forRoot(config: ConnectorLdapConfig, logger: Logger): DynamicModule {
    return ConnectorModule.forConnector({
      kind: 'ldap',
      config,
      logger,
      migrations: [Init1764000000000],
      converger: { useFactory: () => new NotImplementedConverger() },
    });
  },
};
