import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { avroCodec } from '@provisio/contracts';
import type { ConsumedMessage } from '@provisio/messaging';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { AuditQueries } from '../src/api/audit-queries.js';
import { RetentionError, RetentionService, retentionCutoff } from '../src/retention/retention.service.js';
import { joinerRecords } from './records.js';
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

  /** Creates the partition of the month `monthsBack` months ago (as the owner would) and returns its name. */
  async function addMonthPartition(monthsBack: number, on: TestDatabase = db): Promise<string> {
    const from = monthStart(monthsBack);
    const to = monthStart(monthsBack - 1);
    const name = `records_p${from.getUTCFullYear()}${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
    await on.query(`CREATE TABLE IF NOT EXISTS audit.${name} PARTITION OF audit.records FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`);
    return name;
  }

  /** A store of its own: 6 records four months ago (partition `name`), 3 now. */
  async function storeWithOldMonth(prefix: string): Promise<{ other: TestDatabase; s: Store; name: string }> {
    const other = await createTestDatabase(prefix);
    const s = await openStore(other.url, { clock: () => clock });
    const name = await addMonthPartition(4, other);
    clock = monthStart(4).getTime() + DAY;
    await s.repo.append(consumed(6));
    clock = Date.now();
    await s.repo.append(consumed(3));
    return { other, s, name };
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

  it('lets appends go on while it verifies the months it drops, and holds them only for the cut', async () => {
    const { other, s, name } = await storeWithOldMonth('auditretention3');
    const blocker = await other.client();
    try {
      // Stop retention where it gathers the carried access (after verifying, before the cut), then append meanwhile.
      await blocker.query('BEGIN; LOCK TABLE audit.access_baseline IN SHARE MODE');
      const running = new RetentionService(other.url, s.repo, s.chain, signer, trusted, logger).apply(1);
      running.catch(() => undefined);
      const waiting = async () =>
        (await other.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'provisio-audit-retention' AND wait_event_type = 'Lock'`))[0]!.n === '1';
      for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiting()).toBe(true);
      const appended = await Promise.race([s.repo.append(consumed(3)).then(() => 'appended'), new Promise((r) => setTimeout(() => r('blocked'), 10_000))]);
      expect(appended).toBe('appended');
      await blocker.query('COMMIT');
      const out = await running;
      expect(out).toMatchObject({ dropped: [name], anchor: { seq: 6 } });
      expect(await s.chain.verify()).toMatchObject({ ok: true, startedAfter: 6, records: 6 });
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
      await s.db.close();
      await other.drop();
    }
  });

  it('refuses to drop partitions when the chain up to the cut does not verify', async () => {
    const { other, s } = await storeWithOldMonth('auditretention2');
    try {
      await other.query('SET session_replication_role = replica; UPDATE audit.records SET target = $$x$$ WHERE seq = 2; SET session_replication_role = origin');
      await expect(new RetentionService(other.url, s.repo, s.chain, signer, trusted, logger).apply(1)).rejects.toThrow(RetentionError);
      expect((await other.query<{ n: string }>('SELECT count(*) AS n FROM audit.records'))[0]!.n).toBe('9');
    } finally {
      await s.db.close();
      await other.drop();
    }
  });
});

/**
 * "Who has access now" after retention dropped the months holding the commands that granted it:
 * the access state at the cut is carried forward, signed into the anchor, and verified.
 */
describe('access across retention', () => {
  let db: TestDatabase;
  let store: Store;
  let clock = Date.now();
  let offset = 10_000;
  const base = Date.now() - 30 * DAY;
  const early = joinerRecords('person-early', { base });
  const late = joinerRecords('person-late', { base: base + DAY });
  const pending = joinerRecords('person-pending', { base: base + 2 * DAY });

  function message(m: { key: string; value: Buffer; headers: Record<string, string> }, topic: string): ConsumedMessage<Buffer | null> {
    return { topic, partition: 0, offset: String(offset++), key: m.key, headers: m.headers, envelope: { id: m.headers['ce_id']!, type: m.headers['ce_type']!, time: m.headers['ce_time']! }, value: m.value, timestamp: Date.now() };
  }
  const triple = (d: ReturnType<typeof joinerRecords>) => [message(d.lifecycle, 'hr.lifecycle'), message(d.commandMessage, 'provisioning.commands.ldap'), message(d.resultMessage, 'provisioning.results')];
  const queries = () => new AuditQueries(store.db, store.repo, store.keys);
  const who = async (entitlement?: string) =>
    (await queries().access({ target: 'ldap-main', entitlement, at: new Date() })).map((g) => ({ personId: g.personId, since: g.since, accountName: g.accountName, commandId: g.evidence.commandId }));

  beforeAll(async () => {
    db = await createTestDatabase('auditaccessretention');
    store = await openStore(db.url, { clock: () => clock });
    const from = monthStart(2);
    await db.query(`CREATE TABLE audit.records_p${from.getUTCFullYear()}${String(from.getUTCMonth() + 1).padStart(2, '0')} PARTITION OF audit.records FOR VALUES FROM ('${from.toISOString()}') TO ('${monthStart(1).toISOString()}')`);
    clock = from.getTime() + DAY;
    // Two people granted long ago, and a command whose result comes only after the cut.
    await store.repo.append([...triple(early), ...triple(late), message(pending.lifecycle, 'hr.lifecycle'), message(pending.commandMessage, 'provisioning.commands.ldap')]);
    clock = Date.now();
    await store.repo.append([message(pending.resultMessage, 'provisioning.results')]);
  }, 60_000);

  afterAll(async () => {
    await store?.db.close();
    await db?.drop();
  });

  it('still answers who has access, since when and why, after the records that prove it are dropped', async () => {
    const before = await who('staff');
    expect(before.map((g) => g.personId)).toEqual(['person-early', 'person-late', 'person-pending']);
    const out = await new RetentionService(db.url, store.repo, store.chain, signer, trusted, logger).apply(1);
    expect(out.dropped).toHaveLength(1);
    expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit.records'))[0]!.n).toBe('1');
    // Same people, same since-when, same evidence, account names still decrypted.
    expect(await who('staff')).toEqual(before);
    expect(before[0]).toMatchObject({ since: early.result.appliedAt, accountName: 'ada_lovelace', commandId: early.command.commandId });
    expect(await who('admins')).toEqual([]);
    const anchor = await db.query<{ statement: string }>(`SELECT statement FROM audit.checkpoints WHERE kind = 'anchor'`);
    expect(JSON.parse(anchor[0]!.statement)).toMatchObject({ baseline: { accounts: 2, pendingCommands: 1 } });
    expect((await store.chain.verify()).ok).toBe(true);
  });

  it('ends the carried access at a later revocation, and still answers for the time before it', async () => {
    const revoke = { ...early.command, commandId: 'revoke-early', version: 2, state: 'DISABLED' as const, groups: [] };
    const d = joinerRecords('person-early', { base: Date.now() - DAY });
    const codec = avroCodec();
    const result = { ...d.result, commandId: revoke.commandId, version: 2, appliedAt: Date.now() - 1000 };
    await store.repo.append([
      message({ ...d.commandMessage, value: codec.encode('ProvisioningCommand', revoke) }, 'provisioning.commands.ldap'),
      message({ ...d.resultMessage, value: codec.encode('ProvisioningResult', result) }, 'provisioning.results'),
    ]);
    expect((await who('staff')).map((g) => g.personId)).toEqual(['person-late', 'person-pending']);
    expect((await queries().access({ target: 'ldap-main', at: new Date(base + 5 * DAY) })).map((g) => g.personId)).toEqual(['person-early', 'person-late', 'person-pending']);
  });

  it('reports a changed carried state as tampering at the anchor', async () => {
    const anchorSeq = Number((await db.query<{ seq: string }>(`SELECT seq FROM audit.checkpoints WHERE kind = 'anchor'`))[0]!.seq);
    await db.query(`UPDATE audit.access_baseline SET groups = ARRAY['staff', 'admins'] WHERE person_id = 'person-late'`);
    const report = await store.chain.verify();
    expect(report).toMatchObject({ ok: false, firstBadPosition: anchorSeq });
    expect(report.problems[0]).toMatchObject({ kind: 'modified', detail: expect.stringContaining('carried forward by retention') });
  });
});
