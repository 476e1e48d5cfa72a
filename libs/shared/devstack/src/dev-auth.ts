import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { dataDir } from './paths.js';

export const DEV_ISSUER = 'provisio-dev';
export const DEV_AUDIENCE = 'provisio';
export const ALL_SCOPES = ['hr:read', 'hr:write', 'policy:read', 'policy:write', 'connector:read', 'connector:write', 'audit:read', 'audit:admin'];

export interface DevKeys {
  publicKeyFile: string;
  privateKeyPem: string;
}

/**
 * A local signing key so the embedded stack has real authentication: services verify tokens with
 * the public key (AUTH_PUBLIC_KEY_FILE); `npm run token` signs tokens with the private key. In
 * production services use the identity provider's JWKS instead (AUTH_JWKS_URL).
 */
export function ensureDevKeys(): DevKeys {
  const dir = dataDir('auth');
  const privateFile = join(dir, 'dev-signing-key.pem');
  const publicKeyFile = join(dir, 'dev-public-key.pem');
  if (!existsSync(privateFile) || !existsSync(publicKeyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  return { publicKeyFile, privateKeyPem: readFileSync(privateFile, 'utf8') };
}

export async function mintDevToken(scopes: string[] = ALL_SCOPES, ttlSeconds = 8 * 3600, subject = 'dev-user'): Promise<string> {
  const { privateKeyPem } = ensureDevKeys();
  return new SignJWT({ scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(createPrivateKey(privateKeyPem));
}
