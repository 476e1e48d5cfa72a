import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadAuditConfig } from './config.js';

export const { bootstrap, main } = defineService({
  service: 'audit',
  loadConfig: loadAuditConfig,
  module: (config, logger) => AppModule.forRoot(config, logger),
  openapi: { title: 'Provisio audit', description: 'Tamper-evident audit trail: timeline, access at time T, verification, SIEM feed' },
});
