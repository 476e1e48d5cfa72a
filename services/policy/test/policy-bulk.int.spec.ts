import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OutboxWriter } from '@provisio/messaging';
import { createLogger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { TimeZone, uniqueCandidate, type AllocationRequest } from '@provisio/policy-domain';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { PersonStateRepository } from '../src/engine/person-state.repository.js';
import { Init1764000000000 } from '../src/migrations/1764000000000-init.js';
import { PolicyEngine1764100000000 } from '../src/migrations/1764100000000-policy-engine.js';
import { PolicyBulk1764200000000 } from '../src/migrations/1764200000000-policy-bulk.js';
import { PolicyStore } from '../src/policy/policy-store.js';
import { SimulationService } from '../src/api/simulation.service.js';

const request = (personId: string, base: string): AllocationRequest & { personId: string } => ({
  personId,
  namespace: 'uid',
  target: 'dir',
  attribute: 'accountName',
  base,
  maxLength: 8,
  reserved: ['admin'],
});

/** The engine's bulk paths on real PostgreSQL: set-based unique values under concurrency, time zone changes. */
describe('policy bulk state on PostgreSQL', () => {
  let tdb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    tdb = await createTestDatabase('policybulk');
    db = await Database.open({
      url: tdb.url,
      schema: 'policy',
      applicationName: 'policy-bulk-test',
      poolMax: 8,
      migrations: [Init1764000000000, PolicyEngine1764100000000, PolicyBulk1764200000000],
    });
  }, 60_000);

  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  it('allocates unique values in bulk: first free in person order, collision-free across concurrent replicas, stable once allocated', async () => {
    // Three replicas (no shared memory) allocate at once, with overlapping names and a name that is another's candidate.
    const replicas = [new PersonStateRepository('policy'), new PersonStateRepository('policy'), new PersonStateRepository('policy')];
    const batches = replicas.map((_, r) => [
      ...Array.from({ length: 40 }, (_, i) => request(`r${r}-p${String(i).padStart(2, '0')}`, 'jdoe')),
      request(`r${r}-twin`, 'jdoe2'),
      request(`r${r}-adm`, 'admin'),
      request(`r${r}-long`, 'verylongname'.slice(0, 8)),
    ]);
    const results = await Promise.all(replicas.map((repo, r) => db.transaction((tx) => repo.allocateMany(tx.sql, batches[r]!))));
    const all = results.flatMap((m) => [...m].map(([personId, v]) => ({ personId, value: v['uid']! })));
    expect(all).toHaveLength(3 * 43);
    const values = all.map((a) => a.value.toLowerCase());
    expect(new Set(values).size).toBe(values.length);
    expect(values).not.toContain('admin');
    expect(all.find((a) => a.personId === 'r0-adm')!.value).toMatch(/^admin\d+$/);
    for (const v of all.filter((a) => a.personId.endsWith('-long'))) expect(v.value.length).toBeLessThanOrEqual(8);
    // Within one replica's batch, persons get candidates in id order.
    const r0 = batches[0]!.filter((b) => b.base === 'jdoe').map((b) => results[0]!.get(b.personId)!['uid']!);
    const numbers = r0.map((v) => (v === 'jdoe' ? 1 : Number(v.slice(4))));
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    // What the database holds is what was returned.
    const rows = await tdb.query<{ person_id: string; value: string }>(`SELECT person_id, value FROM policy.allocations`);
    expect(new Map(rows.map((x) => [x.person_id, x.value]))).toEqual(new Map(all.map((a) => [a.personId, a.value])));
    // First free: below the highest jdoe number handed out, every candidate of the sequence is taken (by a jdoe or a jdoe2 twin).
    const held = new Set(rows.map((x) => x.value));
    const highest = Math.max(...all.filter((a) => /-p\d+$/.test(a.personId)).map((a) => (a.value === 'jdoe' ? 1 : Number(a.value.slice(4)))));
    for (let n = 1; n <= highest; n++) expect(held.has(uniqueCandidate('jdoe', n, 8))).toBe(true);

    // Asking again (a fresh replica, as after a restart) gives each person the value they have.
    const again = await db.transaction((tx) => new PersonStateRepository('policy').allocateMany(tx.sql, [request('r1-p05', 'jdoe'), request('r2-twin', 'jdoe2')]));
    expect(again.get('r1-p05')!['uid']).toBe(all.find((a) => a.personId === 'r1-p05')!.value);
    expect(again.get('r2-twin')!['uid']).toBe(all.find((a) => a.personId === 'r2-twin')!.value);
  });

  it('a rolled-back allocation is not kept; the next one takes a free value', async () => {
    const repo = new PersonStateRepository('policy');
    await expect(
      db.transaction(async (tx) => {
        await repo.allocateMany(tx.sql, [request('rb-1', 'xyz')]);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    const next = await db.transaction((tx) => new PersonStateRepository('policy').allocateMany(tx.sql, [request('rb-2', 'xyz')]));
    expect(next.get('rb-2')!['uid']).toBe('xyz');
    expect(await tdb.query(`SELECT 1 FROM policy.allocations WHERE person_id = 'rb-1'`)).toHaveLength(0);
  });

  it('a changed POLICY_TIME_ZONE marks everyone for re-evaluation once', async () => {
    await tdb.query(`INSERT INTO policy.persons (person_id, attributes, evaluated_version) SELECT 'tz' || i, '{}'::jsonb, 3 FROM generate_series(1, 5) i`);
    const outbox = new OutboxWriter('policy', '/provisio/policy');
    const store = (zone: string) => new PolicyStore(db, outbox, 'policy', TimeZone.of(zone));
    // First start with the setting: UTC is what evaluations used before it existed.
    expect(await store('UTC').applyTimeZone()).toEqual({ previous: null, marked: 0 });
    expect(await store('UTC').applyTimeZone()).toEqual({ previous: 'UTC', marked: 0 });
    expect(await store('Europe/Berlin').applyTimeZone()).toEqual({ previous: 'UTC', marked: 5 });
    expect(await tdb.query(`SELECT DISTINCT evaluated_version FROM policy.persons WHERE person_id LIKE 'tz%'`)).toEqual([{ evaluated_version: '0' }]);
    expect(await store('Europe/Berlin').applyTimeZone()).toEqual({ previous: 'Europe/Berlin', marked: 0 });
  });

  it('simulates a candidate over everyone: new unique values in memory only, changes paged by person', async () => {
    const policy = (extra: string) => `apiVersion: provisio.dev/v1
kind: Policy
metadata: { name: sim }
targets:
  - id: db
    kind: postgres
    account: { name: "lower(givenName)" }
${extra}roles:
  - id: staff
    entitlements: { db: { groups: [staff] }${extra ? ', wiki: {}' : ''} }
birthright:
  - { id: all, when: { always: true }, grant: [staff] }
`;
    const wiki = `  - id: wiki
    kind: scim
    account:
      name:
        value: lower(familyName)
        unique: { namespace: wiki-name, maxLength: 10 }
`;
    const store = new PolicyStore(db, new OutboxWriter('policy', '/provisio/policy'), 'policy');
    await db.transaction(async (tx) => {
      const { version } = await store.create(tx.sql, [{ name: 'v.yaml', content: policy('') }], { source: 'api', actor: 'test' });
      await store.activate(tx.sql, version, { kind: 'activate', actor: 'test' });
    });
    await tdb.query(
      `INSERT INTO policy.persons (person_id, attributes, evaluated_version) SELECT 'sim' || i, jsonb_build_object('givenName', 'G' || i, 'familyName', 'Doe', 'status', 'active'), 0 FROM generate_series(1, 3) i`,
    );
    // Someone already holds 'doe' in the new namespace.
    await tdb.query(`INSERT INTO policy.allocations (namespace, value, person_id) VALUES ('wiki-name', 'doe', 'someone-else')`);
    const logger = createLogger({ service: 'policy-test', level: 'silent' });
    const simulations = new SimulationService(db, store, new PersonStateRepository('policy'), 'policy', logger, 7);
    const { id, done } = await simulations.start([{ name: 'c.yaml', content: policy(wiki) }], 'test');
    await done;
    expect(await simulations.get(id)).toMatchObject({ status: 'done', summary: { targets: [{ target: 'wiki', accountsGained: 3 }] } });
    const first = (await simulations.changes(id, { target: 'wiki', limit: 2 })) as { changes: { personId: string; accountNameAfter: string }[]; next: string };
    expect(first.changes.map((c) => [c.personId, c.accountNameAfter])).toEqual([
      ['sim1', 'doe2'],
      ['sim2', 'doe3'],
    ]);
    const second = (await simulations.changes(id, { target: 'wiki', after: first.next, limit: 2 })) as { changes: { personId: string }[]; next: string | null };
    expect(second).toEqual({ changes: [expect.objectContaining({ personId: 'sim3', accountNameAfter: 'doe4' })], next: null });
    expect(await tdb.query(`SELECT count(*)::int AS n FROM policy.allocations WHERE namespace = 'wiki-name'`)).toEqual([{ n: 1 }]);
  });
});
