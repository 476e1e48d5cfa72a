import { Injectable, type NestMiddleware } from '@nestjs/common';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import { histogram } from '../metrics.js';
import { tracer } from '../telemetry.js';

const requestDuration = histogram('provisio_http_request_duration_seconds', 'HTTP request duration', ['method', 'route', 'status']);

/** A SERVER span per request (W3C traceparent honoured) and request metrics. */
@Injectable()
export class HttpTracingMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer().startSpan(`${req.method}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } }, parent);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // req.route is known only after routing; use the matched pattern, never the raw path (ids).
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.setStatus({ code: 2 });
      span.end();
      requestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    context.with(trace.setSpan(parent, span), () => next());
  }
}
