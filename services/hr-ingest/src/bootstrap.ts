import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadHrIngestConfig } from './config.js';

export const { bootstrap, main } = defineService({
  service: 'hr-ingest',
  loadConfig: loadHrIngestConfig,
  module: (config, logger) => AppModule.forRoot(config, logger),
  openapi: {
    title: 'Provisio hr-ingest',
    description:
      'Every way HR sends data — workers API, SCIM 2.0 (Users, Bulk as Microsoft Entra API-driven inbound provisioning sends it), Standard Webhooks, CSV snapshots with a YAML column mapping — turned into joiner / mover / leaver / rehire / update / conversion events on hr.lifecycle.',
  },
  configure: (app, config) => {
    // SCIM clients send application/scim+json; bulk requests may be larger than the default 100 kB.
    // Each route checks its own limit (SCIM maxPayloadSize, webhook size) on the raw bytes.
    const limit = Math.max(config.SCIM_BULK_MAX_PAYLOAD_BYTES, config.WEBHOOK_MAX_BODY_BYTES, 1_048_576) + 1024;
    // Webhooks are verified on the exact bytes signed, before anything parses them: the route
    // gets the raw body (a badly signed body is a 401 whatever it contains).
    app.use('/v1/events', express.raw({ type: () => true, limit }));
    (app as NestExpressApplication).useBodyParser('json', { type: ['application/json', 'application/*+json'], limit });
  },
});
