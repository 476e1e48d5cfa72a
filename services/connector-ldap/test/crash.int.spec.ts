import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';
import { startSlapd, type RunningSlapd } from '@provisio/devstack';
import { CommandSender, ServiceProcesses, TopicCollector, createTestDatabase, provisioningCommand, serviceTestEnv, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import { Client } from 'ldapts';
import { PEOPLE, serviceTarget } from './ldap-test-kit.js';

const OWNER_PREFIX = 'provisio:managed person=';

/**
 * connector-ldap as a real process on the real broker, PostgreSQL and slapd, SIGKILLed between
 * its target writes and their results: result transactions are held back by a lock on the
 * connector's applied-versions table, entries appear in slapd (paced by the target's rate limit,
 * so the kill finds some persons written and others not), and the process is killed with none of
 * their results recorded. The restarted process replays the batch and converges: the written
 * entries are found (by owner marker) and not added again, every command gets its one result,
 * nothing is dead-lettered.
 */
describe('fault: connector-ldap SIGKILLed between the target write and the result', () => {
  let slapd: RunningSlapd;
  let db: TestDatabase;
  const services = new ServiceProcesses();
  let env: Record<string, string>;
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;
  let dlt: TopicCollector<Buffer | null>;

  /** Joiner v1 (uid=<person>a), mover v2 renamed (uid=<person>b, modifyDN) with a new title: a replayed v1 must not leave a second entry behind. */
  const lifecycle = (person: string): ProvisioningCommand[] => {
    const base = { personId: person, target: 'dir', targetKind: 'ldap' } as const;
    return [
      provisioningCommand({ ...base, version: 1, accountName: `${person}a`, attributes: { cn: `Person ${person}`, sn: person, title: 'v1' } }),
      provisioningCommand({ ...base, version: 2, accountName: `${person}b`, attributes: { cn: `Person ${person}`, sn: person, title: 'v2' } }),
    ];
  };

  const entries = async (filter: string) => {
    const admin = new Client({ url: slapd.url });
    try {
      await admin.bind(slapd.rootDn, slapd.rootPassword);
      return (await admin.search(PEOPLE, { scope: 'sub', filter, attributes: ['uid', 'title', 'description'] })).searchEntries;
    } finally {
      await admin.unbind().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    slapd = await startSlapd();
    db = await createTestDatabase('ldapcrash');
    const prefix = uniqueTopicPrefix();
    const targets = [
      serviceTarget(slapd, {
        owner: { attribute: 'description', prefix: OWNER_PREFIX },
        // About 5 adds a second: the entries appear one after another, so the kill comes in the middle of them.
        rateLimit: { perSecond: 5, burst: 1 },
        concurrency: 4,
      }),
    ];
    env = serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(targets), LOG_LEVEL: 'info' } });
    await services.start('connector-ldap', env);
    sender = new CommandSender(prefix);
    [results, dlt] = await Promise.all([TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult'), TopicCollector.start(`${prefix}${Topics.commands('ldap')}.dlt`)]);
  }, 120_000);

  afterAll(async () => {
    await services.stopAll();
    await Promise.all([sender?.close(), results?.stop(), dlt?.stop()]);
    await slapd?.destroy();
    await db?.drop();
  }, 60_000);

  it('converges on replay: every entry exactly once, a result for every command, nothing dead-lettered', async () => {
    // Hold result transactions back: target writes happen, their results cannot be recorded.
    const lock = await db.client();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE connector_ldap.applied_versions IN SHARE MODE');
    const persons = Array.from({ length: 20 }, (_, i) => `crash${i}`);
    const byPerson = persons.map(lifecycle);
    // v1 of everyone, then v2 of everyone, in the same partitions (each person's v2 waits for its v1's result).
    const commands = [0, 1].flatMap((v) => byPerson.map((l) => l[v]!));
    await sender.send('ldap', commands);
    await waitFor(async () => (await entries(`(description=${OWNER_PREFIX}*)`)).length >= 3, { timeoutMs: 30_000, what: 'entries written to slapd' });
    const child = services.get('connector-ldap').child;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    services.running.splice(0);
    await lock.query('ROLLBACK');
    lock.release();

    // The crash came between writes and results: some entries are in slapd, not all, and no result was published.
    const written = await entries(`(description=${OWNER_PREFIX}*)`);
    expect(written.length).toBeGreaterThan(0);
    expect(written.length).toBeLessThan(persons.length);
    expect(written.every((e) => String(e['title']) === 'v1')).toBe(true);
    const writtenPersons = new Set(written.map((e) => String(e['description']).slice(OWNER_PREFIX.length)));
    await new Promise((r) => setTimeout(r, 1000));
    expect(results.values()).toEqual([]);

    await services.start('connector-ldap', env);
    await results.waitFor((v) => v.length >= commands.length, { timeoutMs: 90_000, what: `${commands.length} replayed results` });
    await new Promise((r) => setTimeout(r, 2000));
    const got = results.values();
    // Every command answered exactly once (the killed process recorded none of them).
    expect(got.map((r) => r.commandId).sort()).toEqual(commands.map((c) => c.commandId).sort());
    // A joiner written before the crash converges to "no change" on replay; the others are applied; nothing failed.
    for (const r of got) {
      const wasWritten = r.version === 1 && writtenPersons.has(r.personId);
      expect({ person: r.personId, version: r.version, status: r.status }).toEqual({ person: r.personId, version: r.version, status: wasWritten ? 'NO_CHANGE' : 'APPLIED' });
    }
    expect(dlt.records).toHaveLength(0);

    // Every person's entry exactly once (by owner marker and by uid), renamed by v2, nothing left under the joiner's name.
    const all = await entries('(objectClass=inetOrgPerson)');
    expect(all).toHaveLength(persons.length);
    for (const person of persons) {
      expect(got.filter((r) => r.personId === person).map((r) => r.version)).toEqual([1, 2]);
      const owned = await entries(`(description=${OWNER_PREFIX}${person})`);
      expect(owned.map((e) => ({ uid: e['uid'], title: e['title'] }))).toEqual([{ uid: `${person}b`, title: 'v2' }]);
      expect(await entries(`(uid=${person}a)`)).toEqual([]);
      expect(await entries(`(uid=${person}b)`)).toHaveLength(1);
    }
  }, 240_000);
});
