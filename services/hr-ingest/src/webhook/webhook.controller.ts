import { Controller, ForbiddenException, Headers, HttpCode, HttpException, Inject, NotFoundException, Post, Req, type RawBodyRequest } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { futureSourceTime, type WorkerRecord } from '@provisio/hr-ingest-domain';
import { Public } from '@provisio/observability';
import { quoteIdent, type SqlClient } from '@provisio/persistence';
import type { Request } from 'express';
import { z } from 'zod';
import type { HrIngestSettings } from '../config.js';
import { conflict, invalidInput, malformedJson, mediaTypeOf, parseOr400, payloadTooLarge, unsupportedMediaType } from '../http/api-errors.js';
import { SETTINGS } from '../tokens.js';
import { WorkersService, type IngestOutcome } from '../workers/workers.service.js';
import { WebhookVerificationError, verifyStandardWebhook } from './standard-webhooks.js';
import { webhookPayloadSchema } from './webhook-payload.schema.js';

/**
 * HR webhooks, signed per Standard Webhooks. The signature is the route's authentication (a
 * shared secret, as webhook senders use), so it takes no bearer token. A delivery id is
 * accepted once: a replay is refused with 409, durably (the id is stored in the same
 * transaction as the change).
 */
@ApiTags('webhooks')
@Controller('v1/events')
export class WebhookController {
  private readonly deliveries: string;

  constructor(
    private readonly workers: WorkersService,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
  ) {
    this.deliveries = `${quoteIdent(settings.DATABASE_SCHEMA)}.webhook_deliveries`;
  }

  @Post()
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary: 'One worker change, signed per Standard Webhooks (HMAC-SHA256 over id.timestamp.body)',
    description:
      'Authenticated by the signature (WEBHOOK_SECRET or the source\'s own secret from WEBHOOK_SOURCE_SECRETS, whsec_<base64>), not by a bearer token. 400 malformed, 401 bad signature or a timestamp more than WEBHOOK_TOLERANCE_SECONDS away, 403 signed with another source\'s secret, 409 replayed webhook-id or stale change, 413 too large, 415 not JSON.',
  })
  @ApiHeader({ name: 'webhook-id', required: true, description: 'unique delivery id; a replay is refused' })
  @ApiHeader({ name: 'webhook-timestamp', required: true, description: 'Unix seconds' })
  @ApiHeader({ name: 'webhook-signature', required: true, description: 'v1,<base64 HMAC-SHA256>, space separated when several' })
  @ApiBody({ schema: z.toJSONSchema(webhookPayloadSchema, { io: 'input' }) as Record<string, unknown> })
  @ApiResponse({ status: 200, description: 'Applied: personId, status, events emitted, warnings' })
  async receive(
    @Req() req: RawBodyRequest<Request>,
    @Headers('content-type') contentType: string | undefined,
    @Headers('webhook-id') id: string | undefined,
    @Headers('webhook-timestamp') timestamp: string | undefined,
    @Headers('webhook-signature') signature: string | undefined,
  ): Promise<IngestOutcome & { webhookId: string }> {
    const signers = this.settings.webhookSigners();
    if (signers.length === 0) {
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', code: 'WEBHOOK_DISABLED', message: 'the webhook receiver is off: set WEBHOOK_SECRET or WEBHOOK_SOURCE_SECRETS' });
    }
    if (mediaTypeOf(contentType) !== 'application/json') throw unsupportedMediaType(contentType, ['application/json']);
    // The raw parser of this route (bootstrap) leaves the bytes unparsed until they are verified.
    const raw = Buffer.isBuffer(req.body) ? req.body : (req.rawBody ?? Buffer.alloc(0));
    if (raw.length > this.settings.WEBHOOK_MAX_BODY_BYTES) throw payloadTooLarge(this.settings.WEBHOOK_MAX_BODY_BYTES, 'webhook body');
    let verified: { id: string; matched: number[] };
    try {
      verified = verifyStandardWebhook(signers.map((x) => x.key), { id, timestamp, signature }, raw, Date.now(), this.settings.WEBHOOK_TOLERANCE_SECONDS);
    } catch (e) {
      if (!(e instanceof WebhookVerificationError)) throw e;
      throw new HttpException({ statusCode: e.status, error: e.status === 400 ? 'Bad Request' : 'Unauthorized', code: e.code, message: e.message }, e.status);
    }
    let body: unknown;
    const text = raw.toString('utf8');
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw malformedJson(e as Error, text);
    }
    const payload = parseOr400(webhookPayloadSchema, body, 'body');
    const future = futureSourceTime(Date.parse(payload.timestamp), 'body.timestamp', Date.now(), this.settings.HR_MAX_CLOCK_SKEW, payload.timestamp);
    if (future) throw invalidInput('invalid body: the source time lies in the future', [future]);
    const { data } = payload;
    // A source's own secret signs for that source only; WEBHOOK_SECRET for any.
    const allowed = verified.matched.some((i) => signers[i]!.source === null || signers[i]!.source === data.source);
    if (!allowed) {
      throw new ForbiddenException({ statusCode: 403, error: 'Forbidden', code: 'WEBHOOK_SOURCE_NOT_ALLOWED', message: `the secret that signed this delivery is not the one of source ${data.source}` });
    }
    let attributes = data.attributes;
    if (payload.type === 'worker.terminated') {
      if (attributes.status !== undefined && attributes.status !== 'terminated') {
        throw invalidInput('invalid body', [{ field: 'body.data.attributes.status', value: attributes.status, rule: 'matches-type', message: 'a worker.terminated event cannot carry another status' }]);
      }
      attributes = { ...attributes, status: 'terminated' };
    }
    const record: WorkerRecord = { source: data.source, workerId: data.workerId, attributes, sourceTimestamp: Date.parse(payload.timestamp) };
    if (data.sequence !== undefined) record.sequence = data.sequence;
    if (data.managerWorkerId !== undefined) record.managerWorkerId = data.managerWorkerId;
    const outcome = await this.workers.ingest(record, 'WEBHOOK', (sql) => this.claim(sql, data.source, verified.id));
    return { ...outcome, webhookId: verified.id };
  }

  /**
   * Records the delivery id in the change's transaction; a second delivery of it for the same
   * source is refused. Ids are per source (each sender has its own secret and id space); the
   * source is the signed `data.source`, so a replay cannot move to another one.
   */
  private async claim(sql: SqlClient, source: string, webhookId: string): Promise<void> {
    const r = await sql.query(`INSERT INTO ${this.deliveries} (source, webhook_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [source, webhookId]);
    if (r.rowCount !== 1) {
      throw conflict(`webhook-id ${webhookId} was already delivered for source ${source}; a replay changes nothing`, [{ field: 'webhook-id', value: webhookId, rule: 'delivered-once', message: `already delivered for source ${source}` }], 'WEBHOOK_REPLAYED');
    }
  }
}
