import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadPolicyConfig } from './config.js';

export const { bootstrap, main } = defineService({
  service: 'policy',
  loadConfig: loadPolicyConfig,
  module: (config, logger) => AppModule.forRoot(config, logger),
  openapi: { title: 'Provisio policy', description: 'Policy engine: rules, desired state, explain and simulate' },
});
