import { z } from 'zod';
import type { AuthSettings } from './jwt-verifier.js';

/** AUTH_* variables shared by every service with an HTTP API. */
export const authEnv = {
  AUTH_JWKS_URL: z.string().url().optional(),
  AUTH_PUBLIC_KEY: z.string().optional(),
  AUTH_ISSUER: z.string().optional(),
  AUTH_AUDIENCE: z.string().default('provisio'),
};

export function refineAuth(c: { AUTH_JWKS_URL?: string | undefined; AUTH_PUBLIC_KEY?: string | undefined }, ctx: z.RefinementCtx): void {
  if (!c.AUTH_JWKS_URL && !c.AUTH_PUBLIC_KEY) {
    ctx.addIssue({ code: 'custom', path: ['AUTH_JWKS_URL'], message: 'set AUTH_JWKS_URL, or AUTH_PUBLIC_KEY / AUTH_PUBLIC_KEY_FILE (PEM or JWKS JSON)' });
  }
}

export function authSettingsFromEnv(c: { AUTH_JWKS_URL?: string | undefined; AUTH_PUBLIC_KEY?: string | undefined; AUTH_ISSUER?: string | undefined; AUTH_AUDIENCE: string }): AuthSettings {
  return { jwksUrl: c.AUTH_JWKS_URL, publicKey: c.AUTH_PUBLIC_KEY, issuer: c.AUTH_ISSUER, audience: c.AUTH_AUDIENCE };
}
