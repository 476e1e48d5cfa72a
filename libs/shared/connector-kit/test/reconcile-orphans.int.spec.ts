import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DesiredAccount, Page, TargetAccount, TargetConnector } from '@provisio/connector-domain';
import { OutboxWriter, messagingTablesSql } from '@provisio/messaging';
import { createLogger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { z } from 'zod';
import { AppliedStateRepository, KeyedMutex, ReconcileScheduler, Reconciler, TargetRegistry, commonTargetShape, connectorTablesSql, connectorTablesV2Sql, connectorTablesV3Sql } from '../src/index.js';

const SCHEMA = 'orph';

/** An in-memory target: accounts by ref; `onList` runs while a run pages through it. */
class MemoryTarget implements TargetConnector {
  readonly accounts = new Map<string, TargetAccount>();
  onList: () => Promise<void> = async () => undefined;
  add(owner: string): void {
    this.accounts.set(`ref-${owner}`, { ref: `ref-${owner}`, name: owner, owner, enabled: true, attributes: {}, groups: [] });
  }
  async ping(): Promise<void> {}
  async readAccount(): Promise<TargetAccount | null> {
    return null;
  }
  async createAccount(): Promise<TargetAccount> {
    throw new Error('not used');
  }
  async updateAccount(a: TargetAccount): Promise<TargetAccount> {
    return a;
  }
  async enableAccount(): Promise<void> {}
  async disableAccount(a: TargetAccount): Promise<void> {
    this.accounts.get(a.ref)!.enabled = false;
  }
  async deleteAccount(a: TargetAccount): Promise<void> {
    this.accounts.delete(a.ref);
  }
  async listAccounts(): Promise<Page<TargetAccount>> {
    const items = [...this.accounts.values()].map((a) => ({ ...a }));
    await this.onList();
    return { items, next: null };
  }
  async addGroupMembership(): Promise<void> {}
  async removeGroupMembership(): Promise<void> {}
  async listGroups(): Promise<Page<{ name: string; ref: string }>> {
    return { items: [], next: null };
  }
  async close(): Promise<void> {}
}

/**
 * Orphan correction in a correcting run (real PostgreSQL for the applied state, the outbox and the
 * run table; an in-memory target): a joiner whose command lands during the run is not an orphan,
 * and an orphan count above the safety limit is reported, never corrected.
 */
describe('Reconciler: orphan corrections', () => {
  let tdb: TestDatabase;
  let db: Database;
  const applied = new AppliedStateRepository(SCHEMA);
  const logger = createLogger({ service: 'test', level: 'silent' });

  beforeAll(async () => {
    tdb = await createTestDatabase('orphans');
    await tdb.query(`CREATE SCHEMA ${SCHEMA}`);
    for (const sql of [...messagingTablesSql(SCHEMA), ...connectorTablesSql(SCHEMA), ...connectorTablesV2Sql(SCHEMA), ...connectorTablesV3Sql(SCHEMA)]) await tdb.query(sql);
    db = await Database.open({ url: tdb.url, schema: SCHEMA, applicationName: 'orphans-test', migrate: false });
  }, 60_000);

  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  const setup = (id: string, reconcile: Record<string, unknown>) => {
    const target = new MemoryTarget();
    const config = z.object(commonTargetShape).parse({ id, reconcile: { mode: 'correct', ...reconcile } });
    const registry = new TargetRegistry('mem', [{ config, connector: target }], logger);
    const locks = new KeyedMutex();
    const reconciler = new Reconciler(db, new OutboxWriter(SCHEMA, 'test'), applied, registry, locks, logger, SCHEMA);
    return { target, reconciler, locks };
  };
  const desired = (personId: string, target: string): DesiredAccount => ({ personId, target, version: 1, state: 'ACTIVE', accountName: personId, attributes: {}, groups: [] });
  const store = (d: DesiredAccount) =>
    db.transaction((tx) => applied.save(tx.sql, [{ personId: d.personId, target: d.target, appliedVersion: d.version, desired: d, accountRef: `ref-${d.personId}`, status: 'APPLIED', error: null }]));

  it("does not delete a joiner's account whose command lands after the run's snapshot (re-checked under the person lock)", async () => {
    const { target, reconciler, locks } = setup('race', { orphans: 'delete', maxOrphanShare: 1 });
    for (const p of ['a', 'b', 'c']) {
      target.add(p);
      await store(desired(p, 'race'));
    }
    target.add('stale'); // a real orphan
    // The joiner's account exists on the target; its command records the desired state (under the person lock) while the run pages.
    target.add('joiner');
    target.onList = () => locks.run(AppliedStateRepository.key('joiner', 'race'), () => store(desired('joiner', 'race')));
    const run = await reconciler.run('race', 'correct', 'API');
    expect(run.status).toBe('SUCCEEDED');
    expect(target.accounts.has('ref-joiner')).toBe(true);
    expect(target.accounts.has('ref-stale')).toBe(false);
    expect(run.drift['ORPHAN']).toBe(2);
    expect(run.corrected).toBe(1);
  });

  it('reports but corrects no orphans above the safety limit (an empty applied state must not delete every account)', async () => {
    const { target, reconciler } = setup('empty', { orphans: 'delete', maxOrphanCorrections: 3 });
    for (let i = 0; i < 5; i++) target.add(`p${i}`);
    const run = await reconciler.run('empty', 'correct', 'API');
    expect(run.status).toBe('SUCCEEDED');
    expect(target.accounts.size).toBe(5);
    expect(run.drift['ORPHAN']).toBe(5);
    expect(run.corrected).toBe(0);
    expect(run.error).toMatch(/orphan safety limit: 5 of 5 managed accounts are orphans/);
  });

  it('also holds back by share of the managed accounts, and corrects within both limits', async () => {
    const { target, reconciler } = setup('share', { orphans: 'disable', maxOrphanCorrections: 100, maxOrphanShare: 0.25 });
    for (let i = 0; i < 6; i++) {
      target.add(`s${i}`);
      if (i < 4) await store(desired(`s${i}`, 'share'));
    }
    // 2 of 6 = 33 % > 25 %: held.
    expect((await reconciler.run('share', 'correct', 'API')).corrected).toBe(0);
    expect([...target.accounts.values()].every((a) => a.enabled)).toBe(true);
    for (let i = 6; i < 10; i++) {
      target.add(`s${i}`);
      await store(desired(`s${i}`, 'share'));
    }
    // 2 of 10 = 20 %: corrected (disabled).
    const run = await reconciler.run('share', 'correct', 'API');
    expect(run.corrected).toBe(2);
    expect(run.error).toBeNull();
    expect(target.accounts.get('ref-s4')!.enabled).toBe(false);
  });
  it('scheduled runs: a target with reconcile.intervalMinutes is reconciled by itself, not again before the interval; one without never', async () => {
    const every = new MemoryTarget();
    const never = new MemoryTarget();
    every.add('s-1');
    const registry = new TargetRegistry(
      'mem',
      [
        // Every 0.03 min = 1.8 s.
        { config: z.object(commonTargetShape).parse({ id: 'sched-every', reconcile: { mode: 'report', intervalMinutes: 0.03 } }), connector: every },
        { config: z.object(commonTargetShape).parse({ id: 'sched-never', reconcile: { mode: 'report' } }), connector: never },
      ],
      logger,
    );
    const reconciler = new Reconciler(db, new OutboxWriter(SCHEMA, 'test'), applied, registry, new KeyedMutex(), logger, SCHEMA);
    const scheduler = new ReconcileScheduler(reconciler, registry, logger, 200);
    scheduler.start();
    try {
      await new Promise((r) => setTimeout(r, 4_500));
    } finally {
      scheduler.stop();
      await reconciler.drain();
    }
    const runs = (await reconciler.list('sched-every', 50)).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    // Right at start, then once the interval since the last finished run has passed: 2-3 runs in 4.5 s, never one per tick.
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(3);
    expect(runs.every((r) => r.trigger === 'SCHEDULE' && r.status === 'SUCCEEDED' && r.mode === 'report' && r.accountsScanned === 1)).toBe(true);
    for (let i = 1; i < runs.length; i++) {
      expect(Date.parse(runs[i]!.startedAt) - Date.parse(runs[i - 1]!.finishedAt!)).toBeGreaterThanOrEqual(1_800 - 50);
    }
    expect(await reconciler.list('sched-never', 50)).toEqual([]);
  }, 30_000);
});
