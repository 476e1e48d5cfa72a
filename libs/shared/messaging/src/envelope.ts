import { context, propagation, type Context } from '@opentelemetry/api';
import type { Headers } from './port.js';

/** CloudEvents 1.0, Kafka protocol binding, binary content mode. */
export interface EventEnvelope {
  id: string;
  type: string;
  source: string;
  subject?: string | undefined;
  /** RFC 3339 */
  time: string;
  contentType: string;
  dataschema?: string | undefined;
}

export const AVRO_CONTENT_TYPE = 'application/avro';
export const CE_SPECVERSION = '1.0';

export const CeHeader = {
  id: 'ce_id',
  type: 'ce_type',
  source: 'ce_source',
  specversion: 'ce_specversion',
  subject: 'ce_subject',
  time: 'ce_time',
  dataschema: 'ce_dataschema',
  contentType: 'content-type',
} as const;

export function envelopeHeaders(env: EventEnvelope): Headers {
  const h: Headers = {
    [CeHeader.specversion]: CE_SPECVERSION,
    [CeHeader.id]: env.id,
    [CeHeader.type]: env.type,
    [CeHeader.source]: env.source,
    [CeHeader.time]: env.time,
    [CeHeader.contentType]: env.contentType,
  };
  if (env.subject) h[CeHeader.subject] = env.subject;
  if (env.dataschema) h[CeHeader.dataschema] = env.dataschema;
  return h;
}

export function parseEnvelope(headers: Headers): Partial<EventEnvelope> {
  return {
    id: headers[CeHeader.id],
    type: headers[CeHeader.type],
    source: headers[CeHeader.source],
    subject: headers[CeHeader.subject],
    time: headers[CeHeader.time],
    contentType: headers[CeHeader.contentType],
    dataschema: headers[CeHeader.dataschema],
  };
}

/** Writes W3C traceparent/tracestate of the given (default: active) context into headers. */
export function injectTraceContext(headers: Headers, ctx: Context = context.active()): Headers {
  propagation.inject(ctx, headers);
  return headers;
}

export function extractTraceContext(headers: Headers): Context {
  return propagation.extract(context.active(), headers);
}

/** The trace id carried by a traceparent header, if any. */
export function traceIdOf(headers: Headers): string | undefined {
  const tp = headers['traceparent'];
  const m = tp ? /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(tp) : null;
  return m?.[1];
}
