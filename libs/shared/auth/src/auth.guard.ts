import { ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PUBLIC_ROUTE } from '@provisio/observability';
import type { Request, Response } from 'express';
import { AuthError, AuthErrorCode, JwtVerifier, type Principal } from './jwt-verifier.js';
import { REQUIRED_SCOPES } from './decorators.js';

export const JWT_VERIFIER = Symbol('JWT_VERIFIER');

/**
 * Global guard: every HTTP route needs a valid bearer token unless marked @Public(); routes with
 * @RequireScopes need all of those scopes. Kafka handlers are not HTTP and pass through.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(JWT_VERIFIER) private readonly verifier: JwtVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = ctx.switchToHttp().getRequest<Request & { principal?: Principal }>();
    let principal: Principal;
    try {
      principal = await this.verifier.verify(req.headers.authorization);
    } catch (e) {
      if (e instanceof AuthError) {
        // RFC 6750 §3: a challenge on every 401; error="invalid_token" when a token was sent.
        const res = ctx.switchToHttp().getResponse<Response>();
        res.setHeader('WWW-Authenticate', bearerChallenge(e.code === AuthErrorCode.Missing ? undefined : { error: 'invalid_token', description: e.message }));
        throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', code: e.code, message: e.message });
      }
      throw e;
    }
    const required = this.reflector.getAllAndOverride<string[]>(REQUIRED_SCOPES, targets) ?? [];
    const missing = required.filter((s) => !principal.scopes.has(s));
    if (missing.length > 0) {
      const res = ctx.switchToHttp().getResponse<Response>();
      res.setHeader('WWW-Authenticate', bearerChallenge({ error: 'insufficient_scope', description: `missing scope: ${missing.join(' ')}`, scope: required.join(' ') }));
      throw new ForbiddenException({ statusCode: 403, error: 'Forbidden', code: AuthErrorCode.Forbidden, message: `missing scope: ${missing.join(' ')}` });
    }
    req.principal = principal;
    return true;
  }
}

/** A Bearer challenge (RFC 6750 §3); quoted values drop characters a quoted-string cannot hold. */
export function bearerChallenge(e?: { error: string; description?: string; scope?: string }): string {
  const q = (v: string) => `"${v.replace(/["\\\r\n]/g, ' ').slice(0, 200)}"`;
  const parts = [`realm=${q('provisio')}`];
  if (e) {
    parts.push(`error=${q(e.error)}`);
    if (e.description) parts.push(`error_description=${q(e.description)}`);
    if (e.scope) parts.push(`scope=${q(e.scope)}`);
  }
  return `Bearer ${parts.join(', ')}`;
}
