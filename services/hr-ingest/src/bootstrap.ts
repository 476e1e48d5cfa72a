import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadHrIngestConfig } from './config.js';
import { malformedJson, mediaTypeOf } from './http/api-errors.js';

/** Whether the JSON body parser reads this request: only for routes that take that JSON type. */
function takesJson(req: IncomingMessage): boolean {
  const type = mediaTypeOf(req.headers['content-type']);
  const path = (req.url ?? '').split('?')[0] ?? '';
  if (path.startsWith('/scim/')) return type === 'application/json' || type === 'application/scim+json';
  if (/^\/v1\/sources\/[^/]+\/snapshots\/?$/.test(path)) return false;
  return type === 'application/json';
}

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
    // JSON is parsed only where the route takes it (SCIM: application/scim+json too; the CSV upload
    // never): another body reaches its controller unparsed, which answers 415 naming the types it
    // accepts — also when the body would not even parse as JSON.
    (app as NestExpressApplication).useBodyParser('json', { type: takesJson, limit });
    // A body that does not parse: the project's error shape (MALFORMED_JSON, field, rule, position);
    // the SCIM filter turns it into a SCIM invalidSyntax error under /scim/.
    app.use((err: unknown, _req: IncomingMessage, _res: ServerResponse, next: (e?: unknown) => void) => {
      const e = err as { type?: string; body?: unknown } | undefined;
      if (e?.type === 'entity.parse.failed') next(malformedJson(err as Error, typeof e.body === 'string' ? e.body : undefined));
      else next(err);
    });
  },
});
