import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadConnectorScimConfig } from './config.js';

export const { bootstrap, main } = defineService({
  service: 'connector-scim',
  loadConfig: loadConnectorScimConfig,
  module: (config, logger) => AppModule.forRoot(config, logger),
  openapi: { title: 'Provisio connector-scim', description: 'SCIM 2.0 applications: users and groups' },
});
