import { describe, expect, it } from '@jest/globals';
import { SignJWT, exportJWK } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { AuthErrorCode, JwtVerifier, scopesOf } from '../src/index.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

function token(claims: Record<string, unknown> = {}, o: { aud?: string; iss?: string; exp?: number; key?: typeof privateKey; alg?: string } = {}) {
  return new SignJWT({ scope: 'hr:read hr:write', ...claims })
    .setProtectedHeader({ alg: o.alg ?? 'EdDSA' })
    .setSubject('client-1')
    .setAudience(o.aud ?? 'provisio')
    .setIssuer(o.iss ?? 'https://idp.example')
    .setExpirationTime(o.exp ?? Math.floor(Date.now() / 1000) + 60)
    .sign(o.key ?? privateKey);
}

describe('JwtVerifier', () => {
  const verifier = new JwtVerifier({ publicKey: pem, audience: 'provisio', issuer: 'https://idp.example' });

  it('accepts a valid token and reads its scopes', async () => {
    const p = await verifier.verify(`Bearer ${await token()}`);
    expect(p.subject).toBe('client-1');
    expect([...p.scopes].sort()).toEqual(['hr:read', 'hr:write']);
  });

  it('accepts a JWKS document as the key', async () => {
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
    const v = new JwtVerifier({ publicKey: JSON.stringify({ keys: [jwk] }), audience: 'provisio' });
    const t = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).setSubject('s').setAudience('provisio').setExpirationTime('1m').sign(privateKey);
    expect((await v.verify(`Bearer ${t}`)).subject).toBe('s');
  });

  it.each([
    ['missing header', undefined, AuthErrorCode.Missing],
    ['not a bearer JWT', 'Basic dXNlcjpwdw==', AuthErrorCode.Invalid],
  ])('rejects %s', async (_name, header, code) => {
    await expect(verifier.verify(header)).rejects.toMatchObject({ code });
  });

  it('rejects wrong audience, wrong issuer, expiry and a foreign signature', async () => {
    await expect(verifier.verify(`Bearer ${await token({}, { aud: 'other' })}`)).rejects.toThrow(/aud/);
    await expect(verifier.verify(`Bearer ${await token({}, { iss: 'https://evil.example' })}`)).rejects.toThrow(/iss/);
    await expect(verifier.verify(`Bearer ${await token({}, { exp: Math.floor(Date.now() / 1000) - 3600 })}`)).rejects.toThrow(/exp/);
    await expect(verifier.verify(`Bearer ${await token({}, { key: other.privateKey })}`)).rejects.toMatchObject({ code: AuthErrorCode.Invalid });
  });

  it('refuses unsigned and symmetric tokens', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'x', aud: 'provisio', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url');
    await expect(verifier.verify(`Bearer ${header}.${body}.`)).rejects.toMatchObject({ code: AuthErrorCode.Invalid });
  });

  it('reads scopes from scope, scp and roles claims', () => {
    expect([...scopesOf({ scope: 'a b', scp: ['c'], roles: ['d'] })].sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
