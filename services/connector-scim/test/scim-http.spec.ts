import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode } from '@provisio/connector-kit';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScimHttp, TokenSource, undiciTransport, type HttpTransport } from '../src/scim/scim-http.js';

const bearer = { type: 'bearer' as const, token: 't' };

/** The SCIM HTTP client's own rules: its time limit covers the whole exchange, and redirects are refused by name. */
describe('ScimHttp', () => {
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url?.startsWith('/trickle')) {
        // Headers at once, then a byte every 200 ms: no single wait is long, the whole answer is.
        res.writeHead(200, { 'content-type': 'application/scim+json' });
        res.write('{');
        const timer = setInterval(() => res.write(' '), 200);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/scim+json' });
      res.end('{"id":"u-1"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('a body that trickles in past the time limit is a timeout of the whole call', async () => {
    const client = new ScimHttp(base, new TokenSource(bearer, 1000), {}, 800);
    const started = Date.now();
    const err = await client.request('GET', '/trickle').then(
      () => undefined,
      (e: unknown) => e as ConnectorError,
    );
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err?.code).toBe(ConnectorErrorCode.Timeout);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await client.request('GET', '/Users/u-1')).body).toEqual({ id: 'u-1' });
    await client.close();
  });

  it('a service that is not there is unavailable, not a timeout', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const client = new ScimHttp(`http://127.0.0.1:${port}`, new TokenSource(bearer, 1000), {}, 1000, undiciTransport());
    const err = await client.request('GET', '/Users').then(
      () => undefined,
      (e: unknown) => e as ConnectorError,
    );
    expect(err?.code).toBe(ConnectorErrorCode.Unavailable);
    expect(err?.message).toMatch(/ECONNREFUSED/);
    await client.close();
  });

  it('a redirect is not followed: refused, naming where it points but never the query', async () => {
    const transport: HttpTransport = async () => ({ status: 302, header: (n) => (n === 'location' ? 'https://other.example.com/scim/v2/Users?filter=userName%20eq%20%22ada%22' : undefined), text: '' });
    const client = new ScimHttp('https://app.example.com/scim/v2', new TokenSource(bearer, 1000), {}, 1000, transport);
    const err = await client.request('GET', '/Users?filter=userName%20eq%20%22ada%22').then(
      () => undefined,
      (e: unknown) => e as ConnectorError,
    );
    expect(err?.code).toBe(ConnectorErrorCode.Rejected);
    expect(err?.message).toBe('GET /Users?… answered 302, a redirect to https://other.example.com/scim/v2/Users: redirects are not followed (the bearer token would go along); set the target\'s baseUrl to the final URL');
    expect(err?.message).not.toMatch(/ada/);
  });
});
