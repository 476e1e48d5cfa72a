import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { createPublicKey, type KeyObject } from 'node:crypto';

export interface AuthSettings {
  /** JWKS endpoint of the identity provider (Entra ID, Okta, Keycloak, ...). */
  jwksUrl?: string | undefined;
  /** Or a fixed public key (PEM, SPKI) or a JWKS document as JSON. */
  publicKey?: string | undefined;
  issuer?: string | undefined;
  audience: string;
  /** Clock skew tolerance, seconds. */
  clockToleranceSec?: number;
}

export interface Principal {
  subject: string;
  scopes: ReadonlySet<string>;
  clientId?: string | undefined;
}

export enum AuthErrorCode {
  Missing = 'AUTH_MISSING_TOKEN',
  Invalid = 'AUTH_INVALID_TOKEN',
  Forbidden = 'AUTH_INSUFFICIENT_SCOPE',
}

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Scopes from `scope` (space separated, RFC 8693/9068), `scp` (Entra, Okta) and `roles` (Entra app roles). */
export function scopesOf(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string') v.split(/\s+/).filter(Boolean).forEach((s) => out.add(s));
    else if (Array.isArray(v)) v.filter((s): s is string => typeof s === 'string').forEach((s) => out.add(s));
  };
  add(payload['scope']);
  add(payload['scp']);
  add(payload['roles']);
  return out;
}

/** Validates OAuth2 bearer access tokens (JWT): signature, expiry, issuer, audience. */
export class JwtVerifier {
  private readonly key: JWTVerifyGetKey | KeyObject;

  constructor(private readonly settings: AuthSettings) {
    if (settings.jwksUrl) {
      this.key = createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    } else if (settings.publicKey?.trim().startsWith('{')) {
      this.key = createLocalJWKSet(JSON.parse(settings.publicKey) as Parameters<typeof createLocalJWKSet>[0]);
    } else if (settings.publicKey) {
      this.key = createPublicKey(settings.publicKey);
    } else {
      throw new Error('authentication needs AUTH_JWKS_URL or AUTH_PUBLIC_KEY');
    }
  }

  async verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new AuthError(AuthErrorCode.Missing, 'missing bearer token');
    const m = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)$/i.exec(authorization.trim());
    if (!m) throw new AuthError(AuthErrorCode.Invalid, 'authorization header is not a bearer JWT');
    try {
      const { payload } = await jwtVerify(m[1]!, this.key as KeyObject & JWTVerifyGetKey, {
        algorithms: ASYMMETRIC,
        audience: this.settings.audience,
        ...(this.settings.issuer ? { issuer: this.settings.issuer } : {}),
        clockTolerance: this.settings.clockToleranceSec ?? 30,
        requiredClaims: ['exp', 'sub'],
      });
      return {
        subject: payload.sub!,
        scopes: scopesOf(payload),
        clientId: typeof payload['client_id'] === 'string' ? payload['client_id'] : typeof payload['azp'] === 'string' ? payload['azp'] : undefined,
      };
    } catch (e) {
      // jose's messages name the failed check (expired, audience, signature) without token content.
      throw new AuthError(AuthErrorCode.Invalid, `invalid token: ${(e as Error).message}`);
    }
  }
}
