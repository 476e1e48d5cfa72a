import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics, type ProvisioningResult } from '@provisio/contracts';
import type { RunningService } from '@provisio/platform';
import { CommandSender, TcpProxy, TopicCollector, createTestDatabase, mintToken, provisioningCommand, serviceTestEnv, targetReadiness, uniqueId, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import { bootstrap } from '../src/bootstrap.js';

/**
 * The outage is 2 minutes; PROVISIO_TEST_OUTAGE_MS shortens it for quick local runs. The
 * quarantine timings below are the target's own settings (breaker.openSeconds, maxOpenSeconds,
 * callTimeoutMs, retry), shortened so that the breaker opens, probes and reopens several times
 * within the outage; the behaviour is the same with the defaults, only slower.
 */
const OUTAGE_MS = Number(process.env['PROVISIO_TEST_OUTAGE_MS'] ?? 120_000);

/**
 * The PostgreSQL target down in the middle of a stream. The PostgreSQL server is shared by every
 * test (and the connector's own database lives on it), so it is never stopped: the target is
 * reached through a TCP proxy that the test takes down — every open connection destroyed, new ones
 * refused for the first half of the outage and accepted but never answered for the second (the
 * connect and call timeouts must act) — and brings back. Commands keep arriving meanwhile; the
 * target is quarantined (targets API, readiness, metrics), its commands are parked rather than
 * retried in the batch or dead-lettered, and once it is back every command converges exactly once,
 * by itself.
 */
describe(`fault: PostgreSQL target down for ${OUTAGE_MS / 1000} s in the middle of a stream`, () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let proxy: TcpProxy;
  let service: RunningService;
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;
  let dlt: TopicCollector<Buffer | null>;
  const p = uniqueId('pgo').toLowerCase();
  const role = (i: number) => `${p}_user${i}`;
  const marker = `provisio:managed(${p}) person=`;

  beforeAll(async () => {
    [state, target] = await Promise.all([createTestDatabase('pgout'), createTestDatabase('pgouttarget')]);
    const proxied = await TcpProxy.forUrl(target.url);
    proxy = proxied.proxy;
    const targets = [
      {
        id: 'pg',
        url: proxied.url,
        markerPrefix: marker,
        callTimeoutMs: 2000,
        retry: { initialMs: 200, maxMs: 5000 },
        breaker: { consecutiveFailures: 3, openSeconds: 1, maxOpenSeconds: 8 },
      },
    ];
    const prefix = uniqueTopicPrefix();
    // The connector's own database is reached directly: only the target goes down.
    service = await bootstrap(serviceTestEnv({ databaseUrl: state.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(targets) } }));
    sender = new CommandSender(prefix);
    [results, dlt] = await Promise.all([TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult'), TopicCollector.start(`${prefix}${Topics.commands('postgres')}.dlt`)]);
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await Promise.all([sender?.close(), results?.stop(), dlt?.stop()]);
    await proxy?.close();
    const roles = (await target?.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${p}\\_%`])) ?? [];
    for (const r of roles) await target.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    await Promise.all([state?.drop(), target?.drop()]);
  }, 60_000);

  it('quarantines, parks, probes, resumes by itself when the target is back: no command lost, none dead-lettered, none applied twice', async () => {
    // Two commands per person for some (a mover's new connection limit after the joiner) so that per-person order across the outage is checked too.
    const command = (i: number, version = 1) =>
      provisioningCommand({ personId: `p-${i}`, target: 'pg', targetKind: 'postgres', version, accountName: role(i), attributes: { connectionLimit: version } });
    const before = Array.from({ length: 10 }, (_, i) => command(i));
    await sender.send('postgres', before);
    await results.waitFor((v) => v.length >= 10, { what: 'the first 10 results' });
    expect(proxy.stats.forwarded).toBeGreaterThan(0);

    await proxy.down('refuse');
    const token = await mintToken(['connector:read']);
    const status = async () => (await (await fetch(`${service.url}/v1/targets/pg`, { headers: { authorization: `Bearer ${token}` } })).json()) as { quarantine: { state: string }; parked: { count: number } };
    // New joiners, and new versions of persons created before the outage (their older version is applied, this one must follow).
    const during = [...Array.from({ length: 16 }, (_, i) => command(100 + i)), ...Array.from({ length: 4 }, (_, i) => command(i, 2))];
    const outageEnds = Date.now() + OUTAGE_MS;
    const observed = new Set<string>();
    // Readiness never follows the target (quarantine is a designed, self-healing state): the pod
    // stays in its Service and reports the target as degraded.
    const readiness: { status: number; report: string; target: string }[] = [];
    let maxParked = 0;
    for (const [i, c] of during.entries()) {
      // Second half: the target accepts connections and never answers (a hung server or a dropped path).
      if (i === during.length / 2) await proxy.down('blackhole');
      await sender.send('postgres', [c]);
      const until = Date.now() + OUTAGE_MS / during.length;
      while (Date.now() < until) {
        const s = await status();
        observed.add(s.quarantine.state);
        maxParked = Math.max(maxParked, s.parked.count);
        if (i > 2) {
          readiness.push(await targetReadiness(service.url, 'pg'));
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    while (Date.now() < outageEnds) await new Promise((r) => setTimeout(r, 100));
    // Nothing of the outage's commands could be applied; nothing was given up on either.
    const duringIds = new Set(during.map((c) => c.commandId));
    expect(results.values().filter((r) => duringIds.has(r.commandId))).toEqual([]);
    expect(dlt.records).toHaveLength(0);
    expect(observed).toContain('open');
    expect(new Set(readiness.map((r) => r.status))).toEqual(new Set([200]));
    expect(readiness).toContainEqual({ status: 200, report: 'degraded', target: 'degraded' });
    // Both halves reached the connector: refused connects, then connects that were accepted and never answered (probes).
    expect(proxy.stats.turnedAway).toBeGreaterThan(0);
    // The commands wait in the database (parked), not in a stalled batch.
    expect(maxParked).toBeGreaterThan(0);
    const metricsDuring = await (await fetch(`${service.url}/metrics`)).text();
    expect(metricsDuring).toMatch(/provisio_connector_quarantine_transitions_total\{[^}]*target="pg"[^}]*to="open"[^}]*\} [1-9]/);
    expect(metricsDuring).toMatch(/provisio_connector_quarantine_state\{[^}]*target="pg"[^}]*\} [12]\n/);
    expect(metricsDuring).toMatch(/provisio_connector_parked_commands\{[^}]*target="pg"[^}]*\} [1-9]/);
    expect(metricsDuring).toMatch(/provisio_connector_queue_lag_seconds\{[^}]*target="pg"[^}]*\} [1-9]/);
    // Counted as transient target failures (what opens the breaker), never as refusals of the data.
    expect(metricsDuring).toMatch(/provisio_connector_errors_total\{[^}]*target="pg"[^}]*error_class="transient"[^}]*\} [1-9]/);
    expect(metricsDuring).not.toMatch(/provisio_connector_errors_total\{[^}]*target="pg"[^}]*error_class="permanent"/);

    // The same server behind the same address: the target comes back with what it had.
    await proxy.up();
    const after = Array.from({ length: 10 }, (_, i) => command(200 + i));
    await sender.send('postgres', after);
    const all = [...before, ...during, ...after];
    await results.waitFor((v) => v.length >= all.length, { timeoutMs: 90_000, what: `${all.length} results` });
    await new Promise((r) => setTimeout(r, 2000));
    const got = results.values();
    expect(got).toHaveLength(all.length);
    expect(new Set(got.map((r) => r.commandId))).toEqual(new Set(all.map((c) => c.commandId)));
    expect(got.every((r) => r.status === 'APPLIED')).toBe(true);
    expect(dlt.records).toHaveLength(0);
    // Per person in version order.
    for (let i = 0; i < 4; i++) expect(got.filter((r) => r.personId === `p-${i}`).map((r) => r.version)).toEqual([1, 2]);

    // Every person's role exactly once, with its marker and the newest version's connection limit.
    const roles = await target.query<{ rolname: string; description: string | null; rolconnlimit: number }>(
      `SELECT r.rolname, d.description, r.rolconnlimit FROM pg_roles r LEFT JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass WHERE r.rolname LIKE $1 OR d.description LIKE $2`,
      [`${p}\\_%`, `${marker.replace(/[\\%_]/g, '\\$&')}%`],
    );
    const persons = all.filter((c) => c.version === 1);
    expect(roles.map((r) => r.rolname).sort()).toEqual(persons.map((c) => c.accountName).sort());
    for (const c of persons) {
      expect(roles.filter((r) => r.description === `${marker}${c.personId}`).map((r) => r.rolname)).toEqual([c.accountName]);
    }
    const limits = new Map(roles.map((r) => [r.rolname, r.rolconnlimit]));
    for (let i = 0; i < 4; i++) expect(limits.get(role(i))).toBe(2);
    expect(limits.get(role(5))).toBe(1);

    const s = await status();
    expect(s.quarantine.state).toBe('closed');
    expect(s.parked.count).toBe(0);
    expect(await (await fetch(`${service.url}/metrics`)).text()).toMatch(/provisio_connector_quarantine_state\{[^}]*target="pg"[^}]*\} 0\n/);
    await waitFor(async () => (await targetReadiness(service.url, 'pg')).report === 'ok', { what: 'no longer degraded' });
  }, OUTAGE_MS + 180_000);
});
