import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSlapd, type RunningSlapd } from '@provisio/devstack';
import type { RunningService } from '@provisio/platform';
import { OUTAGE_QUARANTINE_SETTINGS, TEST_OUTAGE_MS, createTestDatabase, mintToken, provisioningCommand, sendThroughOutage, startConnectorService, targetReadiness, waitFor, type ConnectorUnderTest, type TestDatabase } from '@provisio/testing';
import { Client } from 'ldapts';
import { bootstrap } from '../src/bootstrap.js';
import { PEOPLE, serviceTarget } from './ldap-test-kit.js';

const OUTAGE_MS = TEST_OUTAGE_MS;

/**
 * The real slapd stopped in the middle of a stream and started again on the same database
 * directory and port: commands keep arriving while it is down, the target is quarantined
 * (targets API, readiness, metrics), its commands are parked rather than retried in the batch or
 * dead-lettered, and after the restart every command converges exactly once, by itself.
 */
describe(`fault: LDAP target (slapd) down for ${OUTAGE_MS / 1000} s in the middle of a stream`, () => {
  let slapd: RunningSlapd;
  let db: TestDatabase;
  let svc: ConnectorUnderTest<RunningService>;

  beforeAll(async () => {
    slapd = await startSlapd();
    db = await createTestDatabase('ldapout');
    const targets = [serviceTarget(slapd, OUTAGE_QUARANTINE_SETTINGS)];
    svc = await startConnectorService('ldap', bootstrap, { databaseUrl: db.url, targets });
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await slapd?.destroy();
    await db?.drop();
  }, 60_000);

  it('quarantines, parks, probes, resumes by itself after slapd restarts: no command lost, none dead-lettered, none applied twice', async () => {
    // Two commands per person for some (a mover's title change after the joiner) so that per-person order across the outage is checked too.
    const command = (i: number, version = 1) =>
      provisioningCommand({ personId: `p-${i}`, target: 'dir', targetKind: 'ldap', version, accountName: `user${i}`, attributes: { cn: `User ${i}`, sn: `S${i}`, title: `v${version}` } });
    const before = Array.from({ length: 10 }, (_, i) => command(i));
    await svc.sender.send('ldap', before);
    await svc.results.waitFor((v) => v.length >= 10, { what: 'the first 10 results' });

    await slapd.stop();
    const token = await mintToken(['connector:read']);
    const status = async () => (await (await fetch(`${svc.service.url}/v1/targets/dir`, { headers: { authorization: `Bearer ${token}` } })).json()) as { quarantine: { state: string }; parked: { count: number } };
    // New joiners, and new versions of persons created before the outage (their older version is applied, this one must follow).
    const during = [...Array.from({ length: 16 }, (_, i) => command(100 + i)), ...Array.from({ length: 4 }, (_, i) => command(i, 2))];
    // Readiness never follows the target (quarantine is a designed, self-healing state): the pod
    // stays in its Service and reports the target as degraded.
    const { states: observed, readiness, maxParked } = await sendThroughOutage(svc, 'ldap', 'dir', during, OUTAGE_MS);
    // Nothing of the outage's commands could be applied; nothing was given up on either.
    const duringIds = new Set(during.map((c) => c.commandId));
    expect(svc.results.values().filter((r) => duringIds.has(r.commandId))).toEqual([]);
    expect(svc.dlt.records).toHaveLength(0);
    expect(observed).toContain('open');
    expect(new Set(readiness.map((r) => r.status))).toEqual(new Set([200]));
    expect(readiness).toContainEqual({ status: 200, report: 'degraded', target: 'degraded' });
    // The commands wait in the database (parked), not in a stalled batch.
    expect(maxParked).toBeGreaterThan(0);
    const metricsDuring = await (await fetch(`${svc.service.url}/metrics`)).text();
    expect(metricsDuring).toMatch(/provisio_connector_quarantine_transitions_total\{[^}]*target="dir"[^}]*to="open"[^}]*\} [1-9]/);
    expect(metricsDuring).toMatch(/provisio_connector_quarantine_state\{[^}]*target="dir"[^}]*\} [12]\n/);
    expect(metricsDuring).toMatch(/provisio_connector_parked_commands\{[^}]*target="dir"[^}]*\} [1-9]/);
    expect(metricsDuring).toMatch(/provisio_connector_queue_lag_seconds\{[^}]*target="dir"[^}]*\} [1-9]/);

    // Same database directory, same port: the directory comes back with what it had.
    await slapd.start();
    const after = Array.from({ length: 10 }, (_, i) => command(200 + i));
    await svc.sender.send('ldap', after);
    const all = [...before, ...during, ...after];
    await svc.results.waitFor((v) => v.length >= all.length, { timeoutMs: 90_000, what: `${all.length} results` });
    await new Promise((r) => setTimeout(r, 2000));
    const got = svc.results.values();
    expect(got).toHaveLength(all.length);
    expect(new Set(got.map((r) => r.commandId))).toEqual(new Set(all.map((c) => c.commandId)));
    expect(got.every((r) => r.status === 'APPLIED')).toBe(true);
    expect(svc.dlt.records).toHaveLength(0);

    // Every person exactly once in the directory, with the newest version's attributes.
    const admin = new Client({ url: slapd.url });
    try {
      await admin.bind(slapd.rootDn, slapd.rootPassword);
      const { searchEntries } = await admin.search(PEOPLE, { scope: 'one', filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'title'] });
      const uids = searchEntries.map((e) => String(e['uid']));
      expect(uids.sort()).toEqual(all.filter((c) => c.version === 1).map((c) => c.accountName).sort());
      const titles = new Map(searchEntries.map((e) => [String(e['uid']), String(e['title'])]));
      for (let i = 0; i < 4; i++) expect(titles.get(`user${i}`)).toBe('v2');
      expect(titles.get('user5')).toBe('v1');
    } finally {
      await admin.unbind().catch(() => undefined);
    }

    const s = await status();
    expect(s.quarantine.state).toBe('closed');
    expect(s.parked.count).toBe(0);
    expect(await (await fetch(`${svc.service.url}/metrics`)).text()).toMatch(/provisio_connector_quarantine_state\{[^}]*target="dir"[^}]*\} 0\n/);
    await waitFor(async () => (await targetReadiness(svc.service.url, 'dir')).report === 'ok', { what: 'no longer degraded' });
  }, OUTAGE_MS + 180_000);
});
