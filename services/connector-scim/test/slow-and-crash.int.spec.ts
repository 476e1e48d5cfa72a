import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics, type ProvisioningResult } from '@provisio/contracts';
import { CommandSender, ScimTestServer, ServiceProcesses, TopicCollector, createTestDatabase, provisioningCommand, serviceTestEnv, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';

/** Seconds per SCIM call of the slow target (PROVISIO_TEST_SLOW_MS). */
const SLOW_MS = Number(process.env['PROVISIO_TEST_SLOW_MS'] ?? 2000);

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
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;

  beforeAll(async () => {
    server = await ScimTestServer.start();
    db = await createTestDatabase('slowcrash');
    const prefix = uniqueTopicPrefix();
    const targets = [{ id: 'app', baseUrl: server.url, allowInsecureHttp: true, auth: { type: 'bearer', token: server.token }, concurrency: 2, callTimeoutMs: 20_000 }];
    env = serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(targets), LOG_LEVEL: 'info' } });
    await services.start('connector-scim', env);
    sender = new CommandSender(prefix);
    results = await TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult');
  }, 120_000);

  afterAll(async () => {
    await services.stopAll();
    await Promise.all([sender?.close(), results?.stop(), server?.close()]);
    await db?.drop();
  }, 60_000);

  it(`keeps its group membership while every call takes ${SLOW_MS} ms (batches far longer than the session timeout)`, async () => {
    server.faults = { latencyMs: SLOW_MS };
    // 3 calls per command, 2 at a time: about 1.5 × SLOW_MS per command; 16 commands ≫ the 30 s session timeout.
    const commands = Array.from({ length: 16 }, (_, i) => provisioningCommand({ personId: `slow-${i}`, target: 'app', targetKind: 'scim', accountName: `slow${i}` }));
    await sender.send('scim', commands);
    await results.waitFor((v) => v.length >= commands.length, { timeoutMs: commands.length * SLOW_MS * 3, what: 'all slow results' });
    await new Promise((r) => setTimeout(r, 3000));
    // A rebalance would have replayed uncommitted commands: a second result for the same command.
    expect(results.values().map((r) => r.commandId).sort()).toEqual(commands.map((c) => c.commandId).sort());
    expect(results.values().every((r) => r.status === 'APPLIED')).toBe(true);
    expect(server.store.users.size).toBe(commands.length);
    const log = services.get('connector-scim').output.join('');
    expect(log).not.toMatch(/rebalanc/i);
    server.faults = {};
  }, 400_000);

  it('converges on replay after a crash between the target write and the result: no duplicate account', async () => {
    // Hold the result transaction back: the target write happens, the result cannot be recorded.
    const lock = await db.client();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE connector_scim.applied_versions IN SHARE MODE');
    const c = provisioningCommand({ personId: 'crash-1', target: 'app', targetKind: 'scim', accountName: 'crash.victim', attributes: { title: 'x' } });
    const before = results.values().length;
    await sender.send('scim', [c]);
    await waitFor(async () => [...server.store.users.values()].some((u) => u['userName'] === 'crash.victim'), { what: 'the account on the target' });
    await new Promise((r) => setTimeout(r, 500));
    services.get('connector-scim').child.kill('SIGKILL');
    await new Promise((r) => services.get('connector-scim').child.once('exit', r));
    await lock.query('ROLLBACK');
    lock.release();
    expect(results.values().length).toBe(before);
    services.running.splice(0);

    await services.start('connector-scim', env);
    const r = await results.waitFor((v) => v.find((x) => x.commandId === c.commandId), { timeoutMs: 60_000, what: 'the replayed result' });
    expect(r).toMatchObject({ status: 'NO_CHANGE', operations: [] });
    expect([...server.store.users.values()].filter((u) => u['userName'] === 'crash.victim')).toHaveLength(1);
  }, 180_000);
});
