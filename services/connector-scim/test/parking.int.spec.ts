import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';
import { CommandSender, ScimTestServer, ServiceProcesses, TopicCollector, createTestDatabase, mintToken, provisioningCommand, serviceTestEnv, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';

interface TargetView {
  quarantine: { state: string };
  parked: { count: number; oldestParkedAt: string | null };
}

/**
 * Two SCIM targets behind one connector-scim process (one topic, keyed by person: a person's
 * commands for both targets share a partition). One target goes down: it is quarantined and its
 * commands are parked in the database, while the other target's commands — the same persons', on
 * the same partition — are applied at once. The process is killed and started again while
 * commands are parked. Once the target is back every parked command is applied, each person's in
 * order (older parked versions superseded by newer ones), nothing dead-lettered, nothing twice.
 */
describe('parking: a quarantined target does not hold back other targets', () => {
  let up: ScimTestServer;
  let down: ScimTestServer;
  let db: TestDatabase;
  const services = new ServiceProcesses();
  let env: Record<string, string>;
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;
  let dlt: TopicCollector<Buffer | null>;
  let token: string;

  const url = () => services.get('connector-scim').url;
  const target = async (id: string): Promise<TargetView> => (await (await fetch(`${url()}/v1/targets/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as TargetView;
  const parkedGauge = async (id: string): Promise<number> => {
    const m = new RegExp(`provisio_connector_parked_commands\\{[^}]*target="${id}"[^}]*\\} (\\d+)`).exec(await (await fetch(`${url()}/metrics`)).text());
    return m ? Number(m[1]) : -1;
  };
  const command = (t: 'up' | 'down', person: number, version: number): ProvisioningCommand =>
    provisioningCommand({ personId: `park-${person}`, target: t, targetKind: 'scim', accountName: `park${person}`, version, attributes: { title: `v${version}` } });
  const resultOf = (c: ProvisioningCommand) => results.values().filter((r) => r.commandId === c.commandId);

  beforeAll(async () => {
    [up, down] = await Promise.all([ScimTestServer.start(), ScimTestServer.start()]);
    db = await createTestDatabase('parking');
    const breaker = { consecutiveFailures: 3, openSeconds: 1, maxOpenSeconds: 4 };
    const targets = [
      { id: 'up', baseUrl: up.url, allowInsecureHttp: true, auth: { type: 'bearer', token: up.token }, callTimeoutMs: 2000, retry: { initialMs: 200, maxMs: 2000 }, breaker },
      { id: 'down', baseUrl: down.url, allowInsecureHttp: true, auth: { type: 'bearer', token: down.token }, callTimeoutMs: 2000, retry: { initialMs: 200, maxMs: 2000 }, breaker },
    ];
    const prefix = uniqueTopicPrefix();
    env = serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(targets) } });
    await services.start('connector-scim', env);
    sender = new CommandSender(prefix);
    token = await mintToken(['connector:read']);
    [results, dlt] = await Promise.all([TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult'), TopicCollector.start(`${prefix}${Topics.commands('scim')}.dlt`)]);
  }, 120_000);

  afterAll(async () => {
    await services.stopAll();
    await Promise.all([sender?.close(), results?.stop(), dlt?.stop(), up?.close(), down?.close()]);
    await db?.drop();
  }, 60_000);

  it('parks the down target’s commands, applies the healthy target’s at once, survives a restart, drains in order when the target is back', async () => {
    const persons = [0, 1, 2, 3, 4, 5];
    const sent: ProvisioningCommand[] = [];
    const send = async (list: ProvisioningCommand[]) => {
      sent.push(...list);
      await sender.send('scim', list);
    };

    // Both targets healthy: version 1 everywhere.
    await send(persons.flatMap((p) => [command('down', p, 1), command('up', p, 1)]));
    await results.waitFor((v) => v.length >= persons.length * 2, { what: 'the first results' });

    // The down target goes away. Each person's command for it comes first on the partition.
    await down.stop();
    const wave2 = persons.flatMap((p) => [command('down', p, 2), command('up', p, 2)]);
    const sentAt = Date.now();
    await send(wave2);
    const upWave2 = wave2.filter((c) => c.target === 'up');
    await results.waitFor((v) => upWave2.every((c) => v.some((r) => r.commandId === c.commandId)), { timeoutMs: 20_000, what: 'the healthy target’s results during the outage' });
    const upLatency = Date.now() - sentAt;
    expect(upWave2.flatMap(resultOf).map((r) => r.status)).toEqual(upWave2.map(() => 'APPLIED'));
    expect(upLatency).toBeLessThan(20_000);
    expect(down.running).toBe(false);
    await waitFor(async () => (await target('down')).parked.count === persons.length, { timeoutMs: 20_000, what: 'the down target’s commands parked' });
    expect((await target('down')).quarantine.state).not.toBe('closed');
    expect((await target('up')).parked.count).toBe(0);
    expect(await parkedGauge('down')).toBe(persons.length);
    expect(await parkedGauge('up')).toBe(0);
    expect(wave2.filter((c) => c.target === 'down').flatMap(resultOf)).toEqual([]);

    // A newer version for half of them: parked behind (it supersedes the older parked version), the healthy target applies at once.
    const wave3 = persons.slice(0, 3).flatMap((p) => [command('down', p, 3), command('up', p, 3)]);
    await send(wave3);
    await results.waitFor((v) => wave3.filter((c) => c.target === 'up').every((c) => v.some((r) => r.commandId === c.commandId)), { timeoutMs: 20_000, what: 'wave 3 on the healthy target' });

    // The process dies while commands are parked, and comes back (target still down).
    services.get('connector-scim').child.kill('SIGKILL');
    await new Promise((r) => services.get('connector-scim').child.once('exit', r));
    services.running.splice(0);
    // Not ready while a target is quarantined (readiness is per target): wait until it is alive.
    await services.start('connector-scim', env, { until: 'live' });
    const wave4 = [command('down', 6, 1), command('up', 6, 1), command('down', 0, 4), command('up', 0, 4)];
    await send(wave4);
    await results.waitFor((v) => wave4.filter((c) => c.target === 'up').every((c) => v.some((r) => r.commandId === c.commandId)), { timeoutMs: 30_000, what: 'the healthy target after the restart' });
    await waitFor(async () => (await target('down')).parked.count === persons.length + 1, { timeoutMs: 30_000, what: 'parked commands after the restart' });
    expect(await parkedGauge('down')).toBe(persons.length + 1);
    expect(down.running).toBe(false);

    // The target is back: every parked command is applied by itself.
    await down.start();
    const downCommands = sent.filter((c) => c.target === 'down');
    await results.waitFor((v) => downCommands.every((c) => v.some((r) => r.commandId === c.commandId)), { timeoutMs: 60_000, what: 'a result for every command of the down target' });
    await waitFor(async () => (await target('down')).parked.count === 0, { timeoutMs: 10_000, what: 'nothing parked any more' });
    expect(await parkedGauge('down')).toBe(0);
    expect((await target('down')).quarantine.state).toBe('closed');
    await new Promise((r) => setTimeout(r, 2000));

    // One result per command, nothing failed or dead-lettered.
    const got = results.values();
    expect(got.map((r) => r.commandId).sort()).toEqual(sent.map((c) => c.commandId).sort());
    expect(got.filter((r) => r.status === 'FAILED')).toEqual([]);
    expect(dlt.records).toHaveLength(0);
    // Per person: the down target's results in version order; the versions that were superseded while parked are stale, the newest is applied.
    for (const p of [...persons, 6]) {
      const mine = got.filter((r) => r.personId === `park-${p}` && r.target === 'down');
      const applied = mine.filter((r) => r.status === 'APPLIED').map((r) => r.version);
      expect(applied).toEqual([...applied].sort((a, b) => a - b));
      const newest = Math.max(...sent.filter((c) => c.target === 'down' && c.personId === `park-${p}`).map((c) => c.version));
      expect(applied.at(-1)).toBe(newest);
      expect(mine.filter((r) => r.status !== 'APPLIED').every((r) => r.status === 'SKIPPED_STALE' && r.version < newest)).toBe(true);
    }
    // The target holds each person once, with the newest state.
    for (const [server, t] of [
      [down, 'down'],
      [up, 'up'],
    ] as const) {
      const users = [...server.store.users.values()];
      expect(users).toHaveLength(persons.length + 1);
      for (const p of [...persons, 6]) {
        const newest = Math.max(...sent.filter((c) => c.target === t && c.personId === `park-${p}`).map((c) => c.version));
        expect(users.filter((u) => u['userName'] === `park${p}`).map((u) => u['title'])).toEqual([`v${newest}`]);
      }
    }
  }, 300_000);
});
