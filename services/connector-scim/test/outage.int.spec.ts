import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunningService } from '@provisio/platform';
import { OUTAGE_QUARANTINE_SETTINGS, ScimTestServer, TEST_OUTAGE_MS, createTestDatabase, mintToken, provisioningCommand, sendThroughOutage, startConnectorService, targetReadiness, waitFor, type ConnectorUnderTest, type TestDatabase } from '@provisio/testing';
import { bootstrap } from '../src/bootstrap.js';

const OUTAGE_MS = TEST_OUTAGE_MS;

/**
 * Target down in the middle of a stream: commands keep coming while the SCIM service refuses
 * connections. The target is quarantined (visible in health, the targets API and metrics),
 * probed, and resumes by itself; every command is applied exactly once and nothing is
 * dead-lettered.
 */
describe(`fault: SCIM target down for ${OUTAGE_MS / 1000} s in the middle of a stream`, () => {
  let server: ScimTestServer;
  let db: TestDatabase;
  let svc: ConnectorUnderTest<RunningService>;

  beforeAll(async () => {
    server = await ScimTestServer.start();
    db = await createTestDatabase('outage');
    const targets = [
      {
        id: 'app',
        baseUrl: server.url,
        allowInsecureHttp: true,
        auth: { type: 'bearer', token: server.token },
        ...OUTAGE_QUARANTINE_SETTINGS,
      },
    ];
    svc = await startConnectorService('scim', bootstrap, { databaseUrl: db.url, targets });
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await server?.close();
    await db?.drop();
  }, 60_000);

  it('quarantines, waits, probes, resumes by itself: no command lost, none dead-lettered, none applied twice', async () => {
    const command = (i: number) => provisioningCommand({ personId: `p-${i}`, target: 'app', targetKind: 'scim', accountName: `user${i}`, attributes: { title: `t${i}` } });
    const before = Array.from({ length: 10 }, (_, i) => command(i));
    await svc.sender.send('scim', before);
    await svc.results.waitFor((v) => v.length >= 10, { what: 'the first 10 results' });

    await server.stop();
    const token = await mintToken(['connector:read']);
    const during = Array.from({ length: 20 }, (_, i) => command(100 + i));
    // Readiness never follows the target (a quarantined target is a designed, self-healing state):
    // the pod stays in its Service and reports the target as degraded.
    const { states: observed, readiness } = await sendThroughOutage(svc, 'scim', 'app', during, OUTAGE_MS);
    // Nothing of the outage's commands could be applied; nothing was given up on either.
    const duringIds = new Set(during.map((c) => c.commandId));
    expect(svc.results.values().filter((r) => duringIds.has(r.commandId))).toEqual([]);
    expect(svc.dlt.records).toHaveLength(0);
    expect(observed).toContain('open');
    expect(new Set(readiness.map((r) => r.status))).toEqual(new Set([200]));
    expect(readiness).toContainEqual({ status: 200, report: 'degraded', target: 'degraded' });
    const metricsDuring = await (await fetch(`${svc.service.url}/metrics`)).text();
    expect(metricsDuring).toMatch(/provisio_connector_quarantine_transitions_total\{[^}]*target="app"[^}]*to="open"[^}]*\} [1-9]/);
    expect(metricsDuring).toMatch(/provisio_connector_queue_lag_seconds\{[^}]*target="app"[^}]*\} [1-9]/);
    // The gauge the ProvisioTargetQuarantined alert reads (deploy/kubernetes/monitoring.ts): 2 = open, 1 = probing.
    expect(metricsDuring).toMatch(/provisio_connector_quarantine_state\{[^}]*target="app"[^}]*\} [12]\n/);

    await server.start();
    const after = Array.from({ length: 10 }, (_, i) => command(200 + i));
    await svc.sender.send('scim', after);
    const all = [...before, ...during, ...after];
    await svc.results.waitFor((v) => v.length >= all.length, { timeoutMs: 60_000, what: `${all.length} results` });
    await new Promise((r) => setTimeout(r, 2000));
    const got = svc.results.values();
    expect(got).toHaveLength(all.length);
    expect(new Set(got.map((r) => r.commandId))).toEqual(new Set(all.map((c) => c.commandId)));
    expect(got.every((r) => r.status === 'APPLIED')).toBe(true);
    expect(server.store.users.size).toBe(all.length);
    expect(svc.dlt.records).toHaveLength(0);
    const status = (await (await fetch(`${svc.service.url}/v1/targets/app`, { headers: { authorization: `Bearer ${token}` } })).json()) as { quarantine: { state: string } };
    expect(status.quarantine.state).toBe('closed');
    expect(await (await fetch(`${svc.service.url}/metrics`)).text()).toMatch(/provisio_connector_quarantine_state\{[^}]*target="app"[^}]*\} 0\n/);
    await waitFor(async () => (await targetReadiness(svc.service.url, 'app')).report === 'ok', { what: 'no longer degraded' });
  }, OUTAGE_MS + 180_000);
});
