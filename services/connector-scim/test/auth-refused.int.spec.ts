import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunningService } from '@provisio/platform';
import { ScimTestServer, createTestDatabase, mintToken, provisioningCommand, startConnectorService, waitFor, type ConnectorUnderTest, type TestDatabase } from '@provisio/testing';
import { bootstrap } from '../src/bootstrap.js';

/**
 * The SCIM service refuses the connector's bearer token (rotated on the service side): a target
 * problem, not the commands'. They are parked while the target is quarantined — never
 * dead-lettered — and applied once the service accepts the token again.
 */
describe('fault: SCIM target refuses the connector token (401)', () => {
  let server: ScimTestServer;
  let db: TestDatabase;
  let svc: ConnectorUnderTest<RunningService>;
  const TOKEN = 'token-the-connector-has';

  beforeAll(async () => {
    server = await ScimTestServer.start();
    db = await createTestDatabase('scimauth');
    const targets = [{ id: 'app', baseUrl: server.url, allowInsecureHttp: true, auth: { type: 'bearer', token: TOKEN }, retry: { initialMs: 100, maxMs: 1000 }, breaker: { consecutiveFailures: 3, openSeconds: 1, maxOpenSeconds: 2 } }];
    svc = await startConnectorService('scim', bootstrap, { databaseUrl: db.url, targets });
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await server?.close();
    await db?.drop();
  }, 60_000);

  it('quarantines and parks instead of dead-lettering; resumes when the token is accepted again', async () => {
    const commands = Array.from({ length: 4 }, (_, i) => provisioningCommand({ personId: `p-${i}`, target: 'app', targetKind: 'scim', accountName: `user${i}`, attributes: { title: 't' } }));
    await svc.sender.send('scim', commands);
    const token = await mintToken(['connector:read']);
    const status = async () => (await (await fetch(`${svc.service.url}/v1/targets/app`, { headers: { authorization: `Bearer ${token}` } })).json()) as { quarantine: { state: string }; parked: { count: number } };
    await waitFor(async () => (await status()).parked.count > 0, { what: 'parked commands', timeoutMs: 30_000 });
    const metrics = await (await fetch(`${svc.service.url}/metrics`)).text();
    expect(metrics).toMatch(/provisio_connector_errors_total\{[^}]*target="app"[^}]*error_class="auth"[^}]*code="TARGET_UNAUTHORIZED"[^}]*\} [1-9]/);
    expect(svc.results.values()).toEqual([]);
    expect(svc.dlt.records).toHaveLength(0);

    // The operator puts the connector's token back in the service's configuration.
    (server as unknown as { token: string }).token = TOKEN;
    await svc.results.waitFor((v) => v.length >= commands.length, { what: 'all results', timeoutMs: 60_000 });
    expect(svc.results.values().map((r) => r.status)).toEqual(commands.map(() => 'APPLIED'));
    expect(svc.dlt.records).toHaveLength(0);
  }, 120_000);
});
