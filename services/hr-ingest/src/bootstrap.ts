import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadHrIngestConfig } from './config.js';

export const { bootstrap, main } = defineService({
  service: 'hr-ingest',
  loadConfig: loadHrIngestConfig,
  module: (config, logger) => AppModule.forRoot(config, logger),
  openapi: { title: 'Provisio hr-ingest', description: 'HR inputs: workers API, SCIM 2.0, webhooks and CSV snapshots' },
});
