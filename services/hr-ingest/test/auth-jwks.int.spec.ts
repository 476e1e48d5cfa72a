import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HrIngestHarness } from './harness.js';

/**
 * AUTH_JWKS_URL: hr-ingest fetches the identity provider's keys from a JWKS endpoint (here a
 * local HTTP server started by the test) and accepts only tokens signed by one of them under its
 * key id.
 */
describe('bearer tokens validated against a JWKS URL (AUTH_JWKS_URL)', () => {
  let h: HrIngestHarness;
  let server: Server;
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let fetches = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'idp-key-1', alg: 'ES256', use: 'sig' }] });
    server = createServer((req, res) => {
      fetches++;
      if (req.url === '/.well-known/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    h = await HrIngestHarness.start({ AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` });
  });
  afterAll(async () => {
    await h?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  const token = (o: { key?: CryptoKey; kid?: string } = {}) =>
    new SignJWT({ scope: 'hr:read hr:write' })
      .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? 'idp-key-1' })
      .setIssuer('provisio-test')
      .setAudience('provisio')
      .setSubject('jwks-client')
      .setExpirationTime('5m')
      .sign(o.key ?? key);
  const get = async (t: string) => h.request('GET', '/v1/sources/jwks/workers/W1', { token: t });

  it('accepts a token signed with a key of the JWKS under its kid', async () => {
    const ok = await get(await token());
    expect(ok.status).toBe(404); // authenticated; there is no such worker
    expect(ok.json['code']).toBe('UNKNOWN_WORKER');
    expect(fetches).toBeGreaterThan(0);
    const put = await h.request('PUT', '/v1/sources/jwks/workers/W1', { token: await token(), body: { attributes: { status: 'active' } } });
    expect(put.json).toMatchObject({ status: 'created' });
  });

  it('refuses a token signed by another key under the same kid, or with a kid the JWKS does not have', async () => {
    for (const t of [await token({ key: otherKey }), await token({ kid: 'idp-key-2' }), h.token]) {
      const r = await get(t);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="provisio", error="invalid_token"/);
    }
  });
});
