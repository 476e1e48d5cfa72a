import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics, type ProvisioningResult } from '@provisio/contracts';
import {
  CommandSender,
  ScimTestServer,
  ServiceProcesses,
  TopicCollector,
  createTestDatabase,
  provisioningCommand,
  serviceTestEnv,
  testKafka,
  uniqueTopicPrefix,
  waitFor,
  type TestDatabase,
} from '@provisio/testing';
import type { Admin } from 'kafkajs';

/**
 * The consumer session timeout the service runs with (KAFKA_SESSION_TIMEOUT_MS; the broker's
 * group.min.session.timeout.ms is 6000 by default): short, so that one batch of the slow target
 * lasts well over twice as long without the test taking long.
 */
const SESSION_TIMEOUT_MS = 6000;
/** Milliseconds per SCIM call of the slow target; one call at a time (the target's concurrency). */
const SLOW_MS = 1000;

/**
 * connector-scim as a real process: a target that takes seconds per call must not cost the
 * consumer its group membership (no rebalance, so nothing is processed twice), and a crash
 * between the target write and the result converges on replay without a duplicate account.
 */
describe('fault: slow target, and a crash between the target write and the result', () => {
  let server: ScimTestServer;
  let db: TestDatabase;
  const services = new ServiceProcesses();
  let env: Record<string, string>;
  let prefix: string;
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;
  let admin: Admin;

  beforeAll(async () => {
    server = await ScimTestServer.start();
    db = await createTestDatabase('slowcrash');
    prefix = uniqueTopicPrefix();
    const targets = [{ id: 'app', baseUrl: server.url, allowInsecureHttp: true, auth: { type: 'bearer', token: server.token }, concurrency: 1, callTimeoutMs: 20_000 }];
    env = serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(targets), LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) } });
    await services.start('connector-scim', env);
    sender = new CommandSender(prefix);
    results = await TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult');
    admin = testKafka().admin();
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    await services.stopAll();
    await Promise.all([sender?.close(), results?.stop(), server?.close(), admin?.disconnect()]);
    await db?.drop();
  }, 60_000);

  const group = () => `${prefix}connector-scim`;
  /** The consumer group as the broker sees it: its state and its members' ids. */
  const groupState = async (): Promise<string> => {
    const [g] = (await admin.describeGroups([group()])).groups;
    return `${g?.state} [${(g?.members ?? []).map((m) => m.memberId).join(', ')}]`;
  };
  /** Joins of its group by the service's consumer, from its own metric. */
  const groupJoins = async (): Promise<number> => {
    const text = await (await fetch(`${services.get('connector-scim').url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('provisio_consumer_group_joins_total{') && l.includes(`group="${group()}"`));
    return Number(line?.split(' ').at(-1) ?? NaN);
  };

  it(`keeps its group membership through a batch far longer than the ${SESSION_TIMEOUT_MS} ms session timeout (${SLOW_MS} ms per call)`, async () => {
    // Warm up: the consumer has fetched and committed once (a topic created just before may cost
    // it a rejoin at start: "not the leader for that topic-partition").
    const warmUp = provisioningCommand({ personId: 'warm-up', target: 'app', targetKind: 'scim', accountName: 'warm.up' });
    await sender.send('scim', [warmUp]);
    await results.waitFor((v) => v.some((r) => r.commandId === warmUp.commandId), { what: 'the warm-up result' });
    const stable = await waitFor(async () => {
      const s = await groupState();
      return /^Stable \[[^,]+\]$/.test(s) && s;
    }, { what: 'the consumer group to be stable with one member' });
    const joins = await groupJoins();
    expect(joins).toBeGreaterThanOrEqual(1);
    server.faults = { latencyMs: SLOW_MS };
    // One call at a time: a bulk read per partition, then one POST per command; ≈ 15 s for the batch.
    const commands = Array.from({ length: 12 }, (_, i) => provisioningCommand({ personId: `slow-${i}`, target: 'app', targetKind: 'scim', accountName: `slow${i}` }));
    // The group as the broker sees it, twice a second while the batch runs: a member that misses
    // its heartbeats for the session timeout is removed (the group goes Empty or rebalances) long
    // before the batch ends.
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.add(await groupState());
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const topic = `${prefix}${Topics.commands('scim')}`;
    const sentAt = Date.now();
    try {
      await sender.send('scim', commands);
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.offset]));
      await results.waitFor((v) => v.length >= commands.length + 1, { timeoutMs: 45_000, what: 'all slow results' });
      // Until the batch's offsets are committed (a consumer removed from its group cannot commit),
      // or the consumer joined its group again.
      await waitFor(
        async () => {
          const [committed] = await admin.fetchOffsets({ groupId: group(), topics: [topic] });
          return committed!.partitions.every((p) => p.offset === ends.get(p.partition)) || (await groupJoins()) > joins;
        },
        { timeoutMs: 20_000, what: 'the batch offsets committed' },
      ).catch(() => undefined); // the assertions below say what went wrong
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      watching = false;
      await watcher;
      server.faults = {};
    }

    // The premise: the consumer runs with the short session timeout, and the batch's target calls
    // took more than twice as long, in one go.
    expect(services.get('connector-scim').output.join('')).toMatch(new RegExp(`"sessionTimeoutMs":${SESSION_TIMEOUT_MS},[^\n]*"msg":"consumer joined its group"`));
    const calls = server.requests.filter((r) => r.at >= sentAt);
    expect(Math.max(...calls.map((r) => r.done)) - Math.min(...calls.map((r) => r.at))).toBeGreaterThan(2 * SESSION_TIMEOUT_MS);
    // No rebalance: the same one member all along (one removed for missing heartbeats joins
    // again under a new id), and the consumer joined its group once.
    expect([...seen]).toEqual([stable]);
    expect(await groupJoins()).toBe(joins);
    // Each command applied once: one result each, one write each on the target.
    const slow = results.values().filter((r) => r.commandId !== warmUp.commandId);
    expect(slow.map((r) => r.commandId).sort()).toEqual(commands.map((c) => c.commandId).sort());
    expect(slow.every((r) => r.status === 'APPLIED')).toBe(true);
    expect(calls.filter((r) => r.method === 'POST')).toHaveLength(commands.length);
    expect(server.store.users.size).toBe(commands.length + 1);
  }, 60_000);

  it('converges on replay after a crash between the target write and the result: no duplicate account', async () => {
    // Hold the result transaction back: the target write happens, the result cannot be recorded.
    const lock = await db.client();
    const c = provisioningCommand({ personId: 'crash-1', target: 'app', targetKind: 'scim', accountName: 'crash.victim', attributes: { title: 'x' } });
    const before = results.values().length;
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE connector_scim.applied_versions IN SHARE MODE');
      await sender.send('scim', [c]);
      await waitFor(async () => [...server.store.users.values()].some((u) => u['userName'] === 'crash.victim'), { what: 'the account on the target' });
      await new Promise((r) => setTimeout(r, 500));
      services.get('connector-scim').child.kill('SIGKILL');
      await new Promise((r) => services.get('connector-scim').child.once('exit', r));
    } finally {
      // Also when the test fails: a held lock would keep the database (and jest) from ending.
      await lock.query('ROLLBACK');
      lock.release();
    }
    expect(results.values().length).toBe(before);
    services.running.splice(0);

    await services.start('connector-scim', env);
    const r = await results.waitFor((v) => v.find((x) => x.commandId === c.commandId), { timeoutMs: 60_000, what: 'the replayed result' });
    expect(r).toMatchObject({ status: 'NO_CHANGE', operations: [] });
    expect([...server.store.users.values()].filter((u) => u['userName'] === 'crash.victim')).toHaveLength(1);
  }, 180_000);
});
