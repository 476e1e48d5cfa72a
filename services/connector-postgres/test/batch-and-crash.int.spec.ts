import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';
import { CommandSender, ServiceProcesses, TopicCollector, createTestDatabase, provisioningCommand, serviceTestEnv, uniqueId, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';

/**
 * connector-postgres as a real process on the real broker and PostgreSQL: many persons with
 * several commands each in one consumed batch (persons run concurrently, each person's commands
 * in log order), and a SIGKILL in the middle of such a batch while results cannot be recorded
 * (after target writes, before their results): the restarted process replays the batch and
 * converges, with one role per person and every command answered.
 */
describe('connector-postgres: batches of many persons, and a crash in the middle of one', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  const services = new ServiceProcesses();
  let env: Record<string, string>;
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;
  const p = uniqueId('pgb').toLowerCase();
  const role = (n: string) => `${p}_${n}`;
  const marker = `provisio:managed(${p}) person=`;

  /** Joiner v1, mover v2 (renamed), v3 disabled with a connection limit: applied out of order, the end state differs. */
  const lifecycle = (person: string): ProvisioningCommand[] => {
    const base = { personId: person, target: 'pg', targetKind: 'postgres' } as const;
    return [
      provisioningCommand({ ...base, version: 1, accountName: role(`${person}_a`) }),
      provisioningCommand({ ...base, version: 2, accountName: role(`${person}_b`) }),
      provisioningCommand({ ...base, version: 3, accountName: role(`${person}_b`), state: 'DISABLED', attributes: { connectionLimit: 2 } }),
    ];
  };
  const rolesOf = (person: string) =>
    target.query<{ rolname: string; rolcanlogin: boolean; rolconnlimit: number }>(
      `SELECT r.rolname, r.rolcanlogin, r.rolconnlimit FROM pg_roles r JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass WHERE d.description = $1`,
      [`${marker}${person}`],
    );

  beforeAll(async () => {
    [state, target] = await Promise.all([createTestDatabase('pgb'), createTestDatabase('pgbtarget')]);
    const prefix = uniqueTopicPrefix();
    const targets = [{ id: 'pg', url: target.url, markerPrefix: marker, concurrency: 4 }];
    env = serviceTestEnv({ databaseUrl: state.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(targets), LOG_LEVEL: 'info' } });
    await services.start('connector-postgres', env);
    sender = new CommandSender(prefix);
    results = await TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult');
  }, 120_000);

  afterAll(async () => {
    await services.stopAll();
    await Promise.all([sender?.close(), results?.stop()]);
    const roles = await target.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${p}\\_%`]);
    for (const r of roles) await target.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    await Promise.all([state?.drop(), target?.drop()]);
  }, 60_000);

  it("keeps each person's commands in order when many persons share a batch", async () => {
    const persons = Array.from({ length: 30 }, (_, i) => `o${i}`);
    // One send: the commands of all persons interleaved (v1 of everyone, then v2, then v3) in the same partitions.
    const byPerson = persons.map(lifecycle);
    const commands = [0, 1, 2].flatMap((v) => byPerson.map((l) => l[v]!));
    await sender.send('postgres', commands);
    await results.waitFor((v) => v.length >= commands.length, { timeoutMs: 60_000, what: `${commands.length} results` });
    const got = results.values();
    expect(got.every((r) => r.status === 'APPLIED')).toBe(true);
    for (const person of persons) {
      // Results of a person in version order (the outbox keeps a key's order), and the end state of v3.
      expect(got.filter((r) => r.personId === person).map((r) => r.version)).toEqual([1, 2, 3]);
      expect(await rolesOf(person)).toEqual([{ rolname: role(`${person}_b`), rolcanlogin: false, rolconnlimit: 2 }]);
    }
  }, 120_000);

  it('converges after a SIGKILL mid-batch between target writes and their results: one role per person, every command answered', async () => {
    const before = results.values().length;
    // Hold result transactions back: target writes happen, their results cannot be recorded.
    const lock = await state.client();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE connector_postgres.applied_versions IN SHARE MODE');
    const persons = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const byPerson = persons.map(lifecycle);
    const commands = [0, 1, 2].flatMap((v) => byPerson.map((l) => l[v]!));
    await sender.send('postgres', commands);
    // Several joiners are on the target (each person waits for its first result before its second command).
    await waitFor(async () => Number((await target.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_roles WHERE rolname LIKE $1`, [`${p}\\_c%`]))[0]!.n) >= 5, {
      timeoutMs: 30_000,
      what: 'roles created on the target',
    });
    await new Promise((r) => setTimeout(r, 500));
    services.get('connector-postgres').child.kill('SIGKILL');
    await new Promise((r) => services.get('connector-postgres').child.once('exit', r));
    await lock.query('ROLLBACK');
    lock.release();
    services.running.splice(0);
    expect(results.values().length).toBe(before);

    await services.start('connector-postgres', env);
    await results.waitFor((v) => v.length >= before + commands.length, { timeoutMs: 90_000, what: 'the replayed results' });
    await new Promise((r) => setTimeout(r, 2000));
    const got = results.values().slice(before);
    // Every command answered exactly once (the killed process recorded none of them).
    expect(got.map((r) => r.commandId).sort()).toEqual(commands.map((c) => c.commandId).sort());
    // A joiner written before the crash converges to "no change" on replay; nothing failed.
    expect(got.every((r) => r.status === 'APPLIED' || r.status === 'NO_CHANGE')).toBe(true);
    expect(got.some((r) => r.version === 1 && r.status === 'NO_CHANGE')).toBe(true);
    for (const person of persons) {
      expect(got.filter((r) => r.personId === person).map((r) => r.version)).toEqual([1, 2, 3]);
      expect(await rolesOf(person)).toEqual([{ rolname: role(`${person}_b`), rolcanlogin: false, rolconnlimit: 2 }]);
    }
  }, 240_000);
});
