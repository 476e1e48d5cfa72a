import { describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode } from '@provisio/connector-kit';
import type pg from 'pg';
import { CreateBatcher } from '../src/target/create-batcher.js';

const pgError = (code: string) => Object.assign(new Error(`failed with ${code}`), { code });
const result = (rows: unknown[] = []) => ({ rows }) as unknown as pg.QueryResult;

/**
 * The batcher against a fake target port (the multi-statement query): which transactions it
 * sends, and what each caller gets. The behaviour against the real PostgreSQL is in
 * create-batch.int.spec.ts.
 */
function rig(answer: (sql: string) => Error | undefined) {
  const sent: string[] = [];
  const run = async (sql: string) => {
    sent.push(sql);
    await new Promise((r) => setTimeout(r, 5));
    const e = answer(sql);
    if (e) throw e;
    const roles = [...sql.matchAll(/CREATE ROLE ("[^"]+")/g)].map((m) => m[1]!);
    return [result(), ...roles.flatMap(() => [result(), result()]), result(roles.map((role, i) => ({ role, oid: String(1000 + i) })))];
  };
  const batcher = new CreateBatcher(run, { maxRoles: 50, maxInFlight: 1, lockTimeoutMs: 100, statementTimeoutMs: 1000 });
  const create = (name: string) => batcher.submit({ role: `"${name}"`, statements: [`CREATE ROLE "${name}" LOGIN`, `COMMENT ON ROLE "${name}" IS 'm'`] });
  return { sent, create };
}

describe('CreateBatcher', () => {
  it('a connection that fails under a batch fails all of its creates at once, without a retry per role', async () => {
    const { sent, create } = rig((sql) => (sql.includes('"b"') ? Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }) : undefined));
    const first = create('a'); // alone: nothing in flight
    const rest = ['b', 'c', 'd'].map((n) => create(n));
    await expect(first).resolves.toBe('1000');
    const outcomes = await Promise.allSettled(rest);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(ConnectorError);
      expect(((o as PromiseRejectedResult).reason as ConnectorError).code).toBe(ConnectorErrorCode.Unavailable);
    }
    expect(sent).toHaveLength(2);
  });

  it('a lock wait past the lock timeout inside a batch: the others are created one by one, the blocked one waits alone without the lock timeout', async () => {
    const { sent, create } = rig((sql) => (sql.includes('"held"') && sql.includes('lock_timeout') ? pgError('55P03') : undefined));
    const first = create('a');
    const rest = ['b', 'held', 'c'].map((n) => create(n));
    await expect(first).resolves.toBeDefined();
    await expect(Promise.all(rest)).resolves.toHaveLength(3);
    const held = sent.filter((s) => s.includes('"held"'));
    // In the batch, alone within the slots (both with the lock timeout), then alone without it.
    expect(held).toHaveLength(3);
    expect(held.map((s) => s.includes('lock_timeout'))).toEqual([true, true, false]);
    // Every transaction of the batcher carries the statement timeout.
    for (const s of sent) expect(s).toMatch(/^SET LOCAL statement_timeout = 1000;/);
  });

  it('a cancelled statement or a server out of resources fails the batch at once too', async () => {
    for (const code of ['57014', '53300']) {
      const { sent, create } = rig((sql) => (sql.includes('"y"') ? pgError(code) : undefined));
      await create('x');
      const outcomes = await Promise.allSettled(['y', 'z'].map((n) => create(n)));
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      expect(sent).toHaveLength(2);
    }
  });
});
