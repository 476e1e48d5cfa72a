import { describe, expect, it } from '@jest/globals';
import { planConvergence } from '@provisio/connector-kit';
import { configTestEnv } from '@provisio/testing';
import { loadConnectorScimConfig } from '../src/config.js';
import { ScimConnector } from '../src/scim/scim.connector.js';
import { ScimHttp, TokenSource, type HttpTransport } from '../src/scim/scim-http.js';

const env = configTestEnv({ S: 'secret' });
const load = (targets: unknown[]) => loadConnectorScimConfig({ ...env, CONNECTOR_TARGETS: JSON.stringify(targets) });

const bearer = { type: 'bearer', token: { env: 'S' } };

describe('connector-scim configuration', () => {
  const oauth = (tokenUrl: string) => ({ type: 'oauth2', tokenUrl, clientId: 'provisio', clientSecret: { env: 'S' } });

  it('refuses http:// base and token URLs unless allowInsecureHttp is set', () => {
    expect(() => load([{ id: 'a', baseUrl: 'http://app.example.com/scim/v2', auth: bearer }])).toThrow(/CONNECTOR_TARGETS.*0.*baseUrl.*must be https:\/\//s);
    expect(() => load([{ id: 'a', baseUrl: 'https://app.example.com/scim/v2', auth: oauth('http://login.example.com/token') }])).toThrow(/tokenUrl.*must be https:\/\//s);
    expect(load([{ id: 'a', baseUrl: 'https://app.example.com/scim/v2', auth: oauth('https://login.example.com/token') }]).CONNECTOR_TARGETS[0]!.allowInsecureHttp).toBe(false);
    expect(load([{ id: 'a', baseUrl: 'http://127.0.0.1:9000/scim/v2', allowInsecureHttp: true, auth: oauth('http://127.0.0.1:9000/token') }]).CONNECTOR_TARGETS).toHaveLength(1);
  });

  it('the connector itself refuses an http:// target without the flag', () => {
    const [cfg] = load([{ id: 'a', baseUrl: 'http://127.0.0.1:9000/scim/v2', allowInsecureHttp: true, auth: bearer }]).CONNECTOR_TARGETS;
    expect(() => new ScimConnector({ ...cfg!, allowInsecureHttp: false })).toThrow(/baseUrl must be https/);
  });
});

describe('connector-scim memberships without display', () => {
  it('names a membership the service lists by id only by its group\'s displayName, so a replay adds nothing', async () => {
    const [cfg] = load([{ id: 'a', baseUrl: 'https://app.example.com/scim/v2', auth: bearer }]).CONNECTOR_TARGETS;
    const connector = new ScimConnector(cfg!);
    const calls: string[] = [];
    const answers: Record<string, unknown> = {
      '/Users/u-1': { id: 'u-1', userName: 'ada', externalId: 'p-ada', active: true, groups: [{ value: 'g-42' }, { value: 'g-7', display: 'ops' }] },
      '/Groups/g-42?attributes=displayName': { id: 'g-42', displayName: 'devs' },
    };
    (connector as unknown as { http: { request: (m: string, p: string) => Promise<unknown> } }).http = {
      request: async (method: string, path: string) => {
        calls.push(`${method} ${path}`);
        const body = answers[path];
        return body === undefined ? { status: 404, body: undefined } : { status: 200, body };
      },
    };
    const desired = { personId: 'p-ada', target: 'a', version: 2, state: 'ACTIVE' as const, accountName: 'ada', attributes: {}, groups: ['devs', 'ops'] };
    const account = await connector.readAccount({ personId: 'p-ada', accountName: 'ada', accountRef: 'u-1', desired });
    expect(account?.groups).toEqual(['devs', 'ops']);
    expect(planConvergence(desired, account, connector.planOptions())).toEqual([]);
    // The id → name look-up is cached.
    await connector.readAccount({ personId: 'p-ada', accountName: 'ada', accountRef: 'u-1', desired });
    expect(calls.filter((c) => c.startsWith('GET /Groups/g-42'))).toHaveLength(1);
  });
});

describe('connector-scim error messages', () => {
  it('name the resource and the looked-up attribute, never the value a look-up filter carries', async () => {
    const [cfg] = load([{ id: 'a', baseUrl: 'https://app.example.com/scim/v2', auth: bearer }]).CONNECTOR_TARGETS;
    const connector = new ScimConnector(cfg!);
    const requested: string[] = [];
    // The transport port: every request answers 500 with a detail.
    const transport: HttpTransport = async (url) => {
      requested.push(url);
      return { status: 500, header: (name) => (name === 'content-type' ? 'application/scim+json' : undefined), text: JSON.stringify({ detail: 'backend exploded' }) };
    };
    (connector as unknown as { http: ScimHttp }).http = new ScimHttp(cfg!.baseUrl, new TokenSource(cfg!.auth, 1000), {}, 1000, transport);
    try {
      const desired = { personId: 'p-grace', target: 'a', version: 1, state: 'ACTIVE' as const, accountName: 'grace.hopper', attributes: {}, groups: [] };
      const failure = await connector.readAccount({ personId: 'p-grace', accountName: 'grace.hopper', accountRef: null, desired }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      // The filter did go to the service, but the message keeps only the path.
      expect(requested.some((u) => u.includes('filter=') && /p-grace|grace\.hopper/.test(u))).toBe(true);
      expect(failure?.message).toMatch(/^GET \/Users\?… answered 500 \(backend exploded\)$/);
      expect(failure?.message).not.toMatch(/grace|hopper|p-grace/);
    } finally {
      await connector.close();
    }
  });
});
