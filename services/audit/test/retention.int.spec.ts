import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { RetentionError, RetentionService, retentionCutoff } from '../src/retention/retention.service.js';
import { consumed, logger, openStore, signer, trusted, type Store } from './store-harness.js';

const DAY = 86_400_000;

function monthStart(monthsBack: number, now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - monthsBack, 1));
}

/**
 * Monthly partitions, retention that drops the old ones, and verification of what remains from
 * the signed anchor it leaves. Old months are produced with a test clock; their partitions are
 * created as the owner would (the runtime function only creates months around now).
 */
describe('retention', () => {
  let db: TestDatabase;
  let store: Store;
  let clock = Date.now();

  async function addMonthPartition(monthsBack: number): Promise<void> {
    const from = monthStart(monthsBack);
    const to = monthStart(monthsBack - 1);
    const name = `records_p${from.getUTCFullYear()}${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
    await db.query(`CREATE TABLE IF NOT EXISTS audit.${name} PARTITION OF audit.records FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`);
  }

  beforeAll(async () => {
    db = await createTestDatabase('auditretention');
    store = await openStore(db.url, { clock: () => clock });
    await addMonthPartition(3);
    await addMonthPartition(2);
    clock = monthStart(3).getTime() + 2 * DAY;
    await store.repo.append(consumed(12));
    clock = monthStart(2).getTime() + 5 * DAY;
    await store.repo.append(consumed(9));
    await store.chain.checkpoint();
    clock = Date.now();
    await store.repo.append(consumed(6));
    await store.chain.checkpoint();
  }, 60_000);

  afterAll(async () => {
    await store?.db.close();
    await db?.drop();
  });

  it('computes the cutoff as the first day of the month N months back', () => {
    expect(retentionCutoff(new Date('2026-03-15T10:00:00Z'), 2).toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('drops whole old months, leaves a signed anchor, and what remains still verifies', async () => {
    const retention = new RetentionService(db.url, store.repo, store.chain, signer, trusted, logger);
    const out = await retention.apply(1);
    expect(out.dropped).toHaveLength(2);
    expect(out.anchor).toMatchObject({ seq: 21 });
    expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit.records'))[0]!.n).toBe('6');
    expect((await db.query<{ min: string }>('SELECT min(seq) AS min FROM audit.record_positions'))[0]!.min).toBe('22');
    const report = await store.chain.verify();
    expect(report).toMatchObject({ ok: true, startedAfter: 21, records: 6, lastPosition: 27 });
    // Appending goes on from the chain's end.
    await store.repo.append(consumed(3));
    expect((await store.chain.verify()).ok).toBe(true);
    expect(await retention.apply(1)).toEqual({ dropped: [], anchor: null });
  });

  it('still finds tampering in what remains after retention', async () => {
    await db.query('SET session_replication_role = replica; DELETE FROM audit.records WHERE seq = 24');
    const r = await store.chain.verify();
    expect(r).toMatchObject({ ok: false, firstBadPosition: 24 });
  });

  it('refuses to drop partitions when the chain up to the cut does not verify', async () => {
    const other = await createTestDatabase('auditretention2');
    const s = await openStore(other.url, { clock: () => clock });
    try {
      const from = monthStart(4);
      const name = `records_p${from.getUTCFullYear()}${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
      await other.query(`CREATE TABLE audit.${name} PARTITION OF audit.records FOR VALUES FROM ('${from.toISOString()}') TO ('${monthStart(3).toISOString()}')`);
      clock = from.getTime() + DAY;
      await s.repo.append(consumed(6));
      clock = Date.now();
      await s.repo.append(consumed(3));
      await other.query('SET session_replication_role = replica; UPDATE audit.records SET target = $$x$$ WHERE seq = 2; SET session_replication_role = origin');
      await expect(new RetentionService(other.url, s.repo, s.chain, signer, trusted, logger).apply(1)).rejects.toThrow(RetentionError);
      expect((await other.query<{ n: string }>('SELECT count(*) AS n FROM audit.records'))[0]!.n).toBe('9');
    } finally {
      await s.db.close();
      await other.drop();
    }
  });
});
