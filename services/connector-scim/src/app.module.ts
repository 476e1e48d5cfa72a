import type { DynamicModule } from '@nestjs/common';
import { ConnectorModule, NotImplementedConverger } from '@provisio/connector-kit';
import type { Logger } from '@provisio/observability';
import type { ConnectorScimConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';

/** Walking skeleton: consumes scim commands and reports NOT_IMPLEMENTED results. */
export const AppModule = {
  forRoot(config: ConnectorScimConfig, logger: Logger): DynamicModule {
    return ConnectorModule.forConnector({
      kind: 'scim',
      config,
      logger,
      migrations: [Init1764000000000],
      converger: { useFactory: () => new NotImplementedConverger() },
    });
  },
};
