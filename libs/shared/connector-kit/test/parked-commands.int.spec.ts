import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import type pg from 'pg';
import { ParkedCommandsRepository, connectorTablesV3Sql, type ParkRequest } from '../src/index.js';

/**
 * The parked-commands table on real PostgreSQL, with the locking two replicas see: a row held by
 * one drain is never handed to another, a person × target's newer row never overtakes an older one
 * in work, a newer version supersedes older parked ones that no drain holds.
 */
describe('ParkedCommandsRepository (PostgreSQL)', () => {
  let db: TestDatabase;
  const repo = new ParkedCommandsRepository('conn');
  const req = (personId: string, version: number): ParkRequest => ({
    target: 't1',
    personId,
    version,
    commandId: `${personId}-v${version}`,
    consumerGroup: 'connector-test',
    record: { topic: 'provisioning.commands.test', partition: 0, offset: String(version), key: Buffer.from(personId), value: Buffer.from([1, 2, 3]), headers: { ce_id: `${personId}-v${version}` }, timestamp: 1000 + version },
  });
  const inTx = async <T>(c: pg.PoolClient, fn: () => Promise<T>): Promise<T> => {
    await c.query('BEGIN');
    return fn();
  };

  beforeAll(async () => {
    db = await createTestDatabase('parked');
    await db.query('CREATE SCHEMA conn');
    for (const sql of connectorTablesV3Sql('conn')) await db.query(sql);
  }, 60_000);

  afterAll(async () => {
    await db?.drop();
  });

  it('supersedes older parked versions, refuses older or equal ones, keeps the record as it came', async () => {
    const c = await db.client();
    try {
      expect(await repo.park(c, req('a', 1))).toEqual({ parked: true, superseded: [] });
      const second = await repo.park(c, req('a', 2));
      expect(second.parked).toBe(true);
      expect(second.superseded.map((s) => s.commandId)).toEqual(['a-v1']);
      expect(second.superseded[0]!.record).toMatchObject({ key: Buffer.from('a'), value: Buffer.from([1, 2, 3]), headers: { ce_id: 'a-v1' }, offset: '1', timestamp: 1001 });
      expect(await repo.park(c, req('a', 2))).toEqual({ parked: false, existing: { commandId: 'a-v2', version: 2 }, superseded: [] });
      expect(await repo.park(c, req('a', 1))).toMatchObject({ parked: false, existing: { version: 2 } });
      expect((await repo.counts(c)).get('t1')).toMatchObject({ count: 1, oldestRecordAt: 1002 });
      expect(await repo.pendingKeys(c, [{ personId: 'a', target: 't1' }, { personId: 'b', target: 't1' }])).toEqual(new Set([ParkedCommandsRepository.key('a', 't1')]));
      await c.query('DELETE FROM conn.parked_commands');
    } finally {
      c.release();
    }
  });

  it('two drains never take the same row, nor a newer row of a person whose older row is in work', async () => {
    const setup = await db.client();
    const a = await db.client();
    const b = await db.client();
    try {
      await repo.park(setup, req('p', 1));
      await repo.park(setup, req('q', 1));
      // Drain A holds p's v1; meanwhile p's v2 is parked: v1 is in work, so it is not superseded.
      const heldByA = await inTx(a, () => repo.claimNext(a, 't1'));
      expect(heldByA?.commandId).toBe('p-v1');
      const parkedBehind = await repo.park(setup, req('p', 2));
      expect(parkedBehind).toEqual({ parked: true, superseded: [] });
      // Drain B: not p-v1 (locked), not p-v2 (p-v1 is older and still there): q.
      const heldByB = await inTx(b, () => repo.claimNext(b, 't1'));
      expect(heldByB?.commandId).toBe('q-v1');
      // A third drain finds nothing it may take.
      expect(await inTx(setup, () => repo.claimNext(setup, 't1'))).toBeUndefined();
      await setup.query('ROLLBACK');
      // A applies p-v1; once it commits, p-v2 is next.
      await repo.remove(a, heldByA!.id);
      await a.query('COMMIT');
      const next = await inTx(a, () => repo.claimNext(a, 't1'));
      expect(next?.commandId).toBe('p-v2');
      await repo.remove(a, next!.id);
      await a.query('COMMIT');
      // B fails transiently: its row stays for later.
      await b.query('ROLLBACK');
      expect((await repo.counts(setup)).get('t1')?.count).toBe(1);
      const last = await inTx(b, () => repo.claimNext(b, 't1'));
      expect(last?.commandId).toBe('q-v1');
      await b.query('ROLLBACK');
    } finally {
      setup.release();
      a.release();
      b.release();
    }
  });
});
