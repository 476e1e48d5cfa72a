import { context, trace, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';

let sdk: NodeSDK | undefined;
let started = false;

export interface TelemetryOptions {
  /** Extra span processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
}

/**
 * Starts OpenTelemetry for this process. Call it before anything else is imported (see each
 * service's main.ts). Spans are always created with real ids so trace context propagates through
 * Kafka; they are exported only when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
 * variable) is set. Idempotent.
 */
export function startTelemetry(serviceName: string, options: TelemetryOptions = {}): void {
  if (started) return;
  started = true;
  // We create messaging and HTTP spans ourselves; keep the SDK from exporting metrics and logs
  // (Prometheus and pino own those) or from guessing an OTLP endpoint.
  process.env['OTEL_METRICS_EXPORTER'] ??= 'none';
  process.env['OTEL_LOGS_EXPORTER'] ??= 'none';
  const processors: SpanProcessor[] = [new NoopSpanProcessor(), ...(options.spanProcessors ?? [])];
  if (process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] || process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
    processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter() }));
  }
  sdk = new NodeSDK({
    serviceName: process.env['OTEL_SERVICE_NAME'] ?? serviceName,
    spanProcessors: processors,
    instrumentations: [],
  });
  sdk.start();
}

export async function shutdownTelemetry(): Promise<void> {
  const s = sdk;
  sdk = undefined;
  if (s) await s.shutdown().catch(() => undefined);
}

export function tracer(): Tracer {
  return trace.getTracer('provisio');
}

/** Trace and span id of the active span, when there is one. */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const span = trace.getSpan(context.active());
  const ctx = span?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return undefined;
  return { traceId: ctx.traceId, spanId: ctx.spanId };
}

/** Records an exception on a span and marks it failed. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: 2, message: error instanceof Error ? error.name : 'error' });
}
