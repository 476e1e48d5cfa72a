import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { PolicyApiError } from '../policy/policy-api-error.js';

/** Turns PolicyApiError into a JSON answer naming the code and, for invalid policies, every problem. */
@Catch(PolicyApiError)
export class PolicyApiErrorFilter implements ExceptionFilter {
  catch(e: PolicyApiError, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw e;
    const res = host.switchToHttp().getResponse<Response>();
    res.status(e.status).json({
      statusCode: e.status,
      code: e.code,
      message: e.problems.length > 0 ? e.message.split(':\n')[0] : e.message,
      ...(e.problems.length > 0 ? { problems: e.problems } : {}),
      ...(e.details ? { details: e.details } : {}),
    });
  }
}
