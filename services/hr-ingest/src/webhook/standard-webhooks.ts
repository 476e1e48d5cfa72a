import { createHmac, timingSafeEqual } from 'node:crypto';

export enum WebhookErrorCode {
  MissingHeader = 'WEBHOOK_MISSING_HEADER',
  BadTimestamp = 'WEBHOOK_BAD_TIMESTAMP',
  TimestampOutOfTolerance = 'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
  BadSignature = 'WEBHOOK_BAD_SIGNATURE',
}

export class WebhookVerificationError extends Error {
  constructor(
    readonly code: WebhookErrorCode,
    message: string,
    /** 400 for a malformed request, 401 for one that fails authentication. */
    readonly status: 400 | 401,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface WebhookHeaders {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
}

/**
 * Standard Webhooks (standardwebhooks.com) verification: HMAC-SHA256 with the shared secret over
 * `${webhook-id}.${webhook-timestamp}.${raw body}`, base64, sent as `v1,<signature>` (several,
 * space separated, during a secret rotation); the timestamp (Unix seconds) must lie within the
 * tolerance of now. Compares in constant time; reports which check failed, never the secret or
 * the expected signature.
 */
export function verifyStandardWebhook(keys: readonly Buffer[], h: WebhookHeaders, rawBody: Buffer, nowMs: number, toleranceSec: number): { id: string; timestamp: number; matched: number[] } {
  for (const [name, value] of [['webhook-id', h.id], ['webhook-timestamp', h.timestamp], ['webhook-signature', h.signature]] as const) {
    if (!value) throw new WebhookVerificationError(WebhookErrorCode.MissingHeader, `the ${name} header is required`, 400);
  }
  const id = h.id!;
  if (id.length > 256) throw new WebhookVerificationError(WebhookErrorCode.MissingHeader, 'webhook-id is longer than 256 characters', 400);
  if (!/^\d{1,12}$/.test(h.timestamp!)) throw new WebhookVerificationError(WebhookErrorCode.BadTimestamp, 'webhook-timestamp must be Unix time in whole seconds', 400);
  const timestamp = Number(h.timestamp);
  const skew = Math.abs(nowMs / 1000 - timestamp);
  if (skew > toleranceSec) {
    throw new WebhookVerificationError(
      WebhookErrorCode.TimestampOutOfTolerance,
      `webhook-timestamp is ${Math.round(skew)} s away from the receiver's clock; at most ${toleranceSec} s are accepted`,
      401,
    );
  }
  const signed = Buffer.concat([Buffer.from(`${id}.${h.timestamp}.`, 'utf8'), rawBody]);
  const candidates = h
    .signature!.split(' ')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  // Every key a signature matches (the caller checks what those keys may do).
  const matched: number[] = [];
  keys.forEach((key, i) => {
    const expected = createHmac('sha256', key).update(signed).digest();
    if (candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected))) matched.push(i);
  });
  if (matched.length > 0) return { id, timestamp, matched };
  throw new WebhookVerificationError(WebhookErrorCode.BadSignature, 'no v1 signature in webhook-signature matches the payload for a configured secret', 401);
}

/** Signs like a Standard Webhooks sender (tests, the CLI's webhook test command). */
export function signStandardWebhook(secret: string, id: string, timestampSec: number, body: string | Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const sig = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${id}.${timestampSec}.`), Buffer.isBuffer(body) ? body : Buffer.from(body)])).digest('base64');
  return `v1,${sig}`;
}
