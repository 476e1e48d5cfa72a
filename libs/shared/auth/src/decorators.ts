import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from './jwt-verifier.js';

export const REQUIRED_SCOPES = 'provisio:required-scopes';

/** The caller needs every one of these OAuth2 scopes. */
export const RequireScopes = (...scopes: string[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** The authenticated caller. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal | undefined => {
  return ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal;
});

/** Scope names used by Provisio's APIs. */
export const Scopes = {
  hrRead: 'hr:read',
  hrWrite: 'hr:write',
  policyRead: 'policy:read',
  policyWrite: 'policy:write',
  connectorRead: 'connector:read',
  connectorWrite: 'connector:write',
  auditRead: 'audit:read',
  auditAdmin: 'audit:admin',
} as const;
