import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadConnectorPostgresConfig } from './config.js';

export const { bootstrap, main } = defineService({
  service: 'connector-postgres',
  loadConfig: loadConnectorPostgresConfig,
  module: (config, logger) => AppModule.forRoot(config, logger),
  openapi: { title: 'Provisio connector-postgres', description: 'PostgreSQL roles as accounts' },
});
