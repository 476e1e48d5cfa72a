import { Catch, HttpException, Inject, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { SCIM_MEDIA_TYPE, ScimError, URN, type ScimType } from '@provisio/hr-ingest-scim';
import { LOGGER, type Logger } from '@provisio/observability';
import type { Request, Response } from 'express';

function messageOf(body: unknown, fallback: string): string {
  if (typeof body === 'string') return body;
  if (body && typeof body === 'object') {
    const m = (body as { message?: unknown }).message;
    if (typeof m === 'string') return m;
    if (Array.isArray(m)) return m.join('; ');
  }
  return fallback;
}

/**
 * Every error under /scim/ is answered in the SCIM error schema (RFC 7644 §3.12) with
 * application/scim+json — including authentication failures, body-parser errors (malformed JSON,
 * too large) and unknown routes; other routes keep Nest's format.
 */
@Catch()
export class ScimExceptionFilter extends BaseExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {
    super();
  }

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return super.catch(exception, host);
    const req = host.switchToHttp().getRequest<Request>();
    if (!req.path.startsWith('/scim/')) return super.catch(exception, host);
    const res = host.switchToHttp().getResponse<Response>();
    let status = 500;
    let scimType: ScimType | undefined;
    let detail = 'internal error';
    if (exception instanceof ScimError) {
      status = exception.status;
      scimType = exception.scimType;
      detail = exception.detail;
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      detail = messageOf(exception.getResponse(), exception.message);
      if (status === 400) scimType = 'invalidSyntax';
      if (status === 401 && !res.getHeader('WWW-Authenticate')) res.setHeader('WWW-Authenticate', 'Bearer realm="provisio"');
    } else {
      this.logger.error({ err: exception, path: req.path }, 'SCIM request failed');
    }
    res
      .status(status)
      .type(SCIM_MEDIA_TYPE)
      .send(JSON.stringify({ schemas: [URN.error], status: String(status), ...(scimType ? { scimType } : {}), detail }));
  }
}
