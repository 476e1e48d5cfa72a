import { expect } from '@jest/globals';
import { configTestEnv, type ScimRequestHook, type ScimTestServer } from '@provisio/testing';
import { loadConnectorScimConfig, type ScimTargetConfig } from '../src/config.js';

export type Json = Record<string, unknown>;

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/**
 * Target `id` on the SCIM test server as connector-scim's own configuration loader parses it:
 * plain http:// allowed, the server's bearer token, `settings` on top.
 */
export function scimTarget(server: ScimTestServer, id: string, settings: Record<string, unknown> = {}): ScimTargetConfig {
  const [cfg] = loadConnectorScimConfig({
    ...configTestEnv(),
    TOKEN: server.token,
    CONNECTOR_TARGETS: JSON.stringify([{ id, baseUrl: server.url, allowInsecureHttp: true, auth: { type: 'bearer', token: { env: 'TOKEN' } }, ...settings }]),
  }).CONNECTOR_TARGETS;
  return cfg!;
}

/**
 * Another writer (an administrator, another replica or tool) changes a resource (`path`, e.g.
 * /Users/u1) by GET + PUT of what `rewrite` makes of it, with If-Match when the server gives versions.
 */
export async function foreignUpdate(server: ScimTestServer, path: string, rewrite: (resource: Json) => Json): Promise<void> {
  const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/scim+json' };
  const got = await fetch(`${server.url}${path}`, { headers });
  const resource = (await got.json()) as Json;
  const etag = got.headers.get('etag');
  const put = await fetch(`${server.url}${path}`, { method: 'PUT', headers: { ...headers, ...(etag ? { 'if-match': etag } : {}) }, body: JSON.stringify(rewrite(resource)) });
  expect(put.status).toBe(200);
}

/** Runs `hook` before each request the server handles, except the requests `hook` itself makes (the other writer's). */
export function interleave(server: ScimTestServer, hook: ScimRequestHook): void {
  let inHook = false;
  server.beforeHandling = async (req) => {
    if (inHook) return;
    inHook = true;
    try {
      await hook(req);
    } finally {
      inHook = false;
    }
  };
}
