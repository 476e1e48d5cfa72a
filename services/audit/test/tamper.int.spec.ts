import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { canonicalJson, contentHash, linkHash, type SignedCheckpoint, type VerificationReport } from '@provisio/audit-domain';
import { TestEnv, createTestDatabase, requireEnv, uniqueId, type TestDatabase } from '@provisio/testing';
import pg from 'pg';
import type { CommittedOffset } from '../src/chain/chain.service.js';
import { RECORD_COLUMNS, entryOf, type RecordRow } from '../src/store/record.repository.js';
import { consumed, openStore, signer } from './store-harness.js';

/**
 * Tampering as a database superuser (triggers switched off with session_replication_role), each
 * case on a copy of one database: verification finds it and reports the first bad position.
 * Positions 1..60 with signed checkpoints at 40 and 60.
 */
describe('verification against a superuser who tampers with the store', () => {
  let base: TestDatabase;
  let base70: TestDatabase | undefined;
  const server = () => requireEnv(TestEnv.postgresServer);
  let lastCheckpoint: SignedCheckpoint;

  beforeAll(async () => {
    base = await createTestDatabase('audittamper');
    const store = await openStore(base.url);
    expect(await store.repo.append(consumed(25))).toBe(25);
    await store.repo.append(consumed(15));
    expect((await store.chain.checkpoint())?.statement.seq).toBe(40);
    await store.repo.append(consumed(20));
    lastCheckpoint = (await store.chain.checkpoint())!;
    expect(lastCheckpoint.statement.seq).toBe(60);
    await store.db.close();
  }, 60_000);

  afterAll(async () => {
    await base?.drop();
    await base70?.drop();
  });

  /** Copies the database, tampers with the copy as superuser, verifies it. */
  async function tamperAndVerify(tamper: (c: pg.Client) => Promise<void>, extra?: SignedCheckpoint[], fromSeq?: number, committedOffsets?: CommittedOffset[], from: TestDatabase = base, storeOptions: { checkpointPageSize?: number } = {}): Promise<VerificationReport> {
    const name = uniqueId('audittamper_copy_').toLowerCase();
    const admin = new pg.Client({ connectionString: `${server()}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${from.name}"`);
    const url = `${server()}/${name}`;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('SET session_replication_role = replica'); // superuser only: triggers off
      await tamper(c);
      const store = await openStore(url, { migrate: false, ...storeOptions });
      try {
        return await store.chain.verify({ extraCheckpoints: extra, fromSeq, committedOffsets });
      } finally {
        await store.db.close();
      }
    } finally {
      await c.end();
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
      await admin.end();
    }
  }

  /** Runs a query on the untouched base database. */
  async function tamperBase<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: base.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  const kinds = (r: VerificationReport) => [...new Set(r.problems.map((p) => p.kind))];

  it('an untouched copy verifies', async () => {
    expect(await tamperAndVerify(async () => undefined)).toMatchObject({ ok: true, records: 60, checkpoints: { verified: 2 } });
  });

  it('finds a modified record', async () => {
    const r = await tamperAndVerify((c) => c.query(`UPDATE audit.records SET payload_json = jsonb_set(payload_json, '{kind}', '"LEAVER"') WHERE seq = 16`).then(() => undefined));
    expect(r).toMatchObject({ ok: false, firstBadPosition: 16 });
    expect(kinds(r)).toEqual(['modified']);
  });

  it('verifies from a position on, starting at the signed checkpoint before it', async () => {
    const r = await tamperAndVerify((c) => c.query(`UPDATE audit.records SET payload_json = jsonb_set(payload_json, '{kind}', '"LEAVER"') WHERE seq = 16`).then(() => undefined), undefined, 45);
    expect(r).toMatchObject({ ok: true, startedAfter: 40, records: 20, checkpoints: { verified: 1 } });
  });

  it('finds a modified index column', async () => {
    const r = await tamperAndVerify((c) => c.query(`UPDATE audit.records SET person_id = 'someone-else' WHERE seq = 23`).then(() => undefined));
    expect(r.firstBadPosition).toBe(23);
    expect(r.problems[0]!.detail).toMatch(/personId/);
  });

  it('finds a deleted record', async () => {
    const r = await tamperAndVerify((c) => c.query('DELETE FROM audit.records WHERE seq = 30').then(() => undefined));
    expect(r).toMatchObject({ firstBadPosition: 30 });
    expect(r.problems[0]).toMatchObject({ kind: 'deleted', position: 30, until: 30 });
  });

  it('finds an inserted record', async () => {
    const r = await tamperAndVerify(async (c) => {
      await c.query(`INSERT INTO audit.records SELECT * FROM audit.records WHERE seq = 12`);
      await c.query(`UPDATE audit.records SET topic = 'hr.lifecycle.forged' WHERE seq = 12 AND ctid = (SELECT max(ctid) FROM audit.records WHERE seq = 12)`);
    });
    expect(r.firstBadPosition).toBe(12);
    expect(kinds(r)).toContain('inserted');
  });

  it('finds reordered records', async () => {
    const r = await tamperAndVerify(async (c) => {
      await c.query('UPDATE audit.records SET seq = -1 WHERE seq = 33');
      await c.query('UPDATE audit.records SET seq = 33 WHERE seq = 35');
      await c.query('UPDATE audit.records SET seq = 35 WHERE seq = -1');
    });
    expect(r.firstBadPosition).toBe(33);
    expect(kinds(r)).toContain('reordered');
  });

  it('finds a truncated tail (signed checkpoint and position ledger)', async () => {
    const r = await tamperAndVerify((c) => c.query('DELETE FROM audit.records WHERE seq > 55').then(() => undefined));
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'truncated', position: 56, until: 60 })]);
  });

  it('finds a truncated tail whose checkpoint and ledger were deleted too, with the copy of the checkpoint from Kafka', async () => {
    const tamper = async (c: pg.Client) => {
      await c.query('DELETE FROM audit.records WHERE seq > 55');
      await c.query('DELETE FROM audit.record_positions WHERE seq > 55');
      await c.query('DELETE FROM audit.checkpoints WHERE seq = 60');
    };
    expect((await tamperAndVerify(tamper)).ok).toBe(true); // the database alone cannot tell
    const r = await tamperAndVerify(tamper, [lastCheckpoint]);
    expect(r).toMatchObject({ ok: false, firstBadPosition: 56 });
  });

  it('refuses a forged retention anchor (a periodic checkpoint copied as an anchor) and finds the deleted start of the chain', async () => {
    const r = await tamperAndVerify(async (c) => {
      // What the runtime role could do (INSERT into checkpoints), then hide the deletion behind it.
      await c.query(`INSERT INTO audit.checkpoints (kind, seq, hash, key_id, statement, signature) SELECT 'anchor', seq, hash, key_id, statement, signature FROM audit.checkpoints WHERE seq = 40`);
      await c.query('DELETE FROM audit.records WHERE seq <= 40');
      await c.query('DELETE FROM audit.record_positions WHERE seq <= 40');
    });
    expect(r).toMatchObject({ ok: false, startedAfter: 0, firstBadPosition: 1 });
    expect(r.problems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'deleted', position: 1, until: 40 }), expect.objectContaining({ kind: 'bad-signature', position: 40 })]));
  });

  it('starts from a genuine signed anchor, and reports one that follows no trusted checkpoint', async () => {
    const anchorAt40 = async (previous: { seq: number; hash: string }) => {
      const cp40 = (await tamperBase((c) => c.query<{ statement: string }>('SELECT statement FROM audit.checkpoints WHERE seq = 40'))).rows[0]!;
      const s40 = JSON.parse(cp40.statement) as SignedCheckpoint['statement'];
      return signer.sign({ chainId: s40.chainId, kind: 'anchor', seq: 40, hash: s40.hash, recordedAt: s40.recordedAt, issuedAt: Date.now(), previous });
    };
    const insertAndCut = (a: SignedCheckpoint) => async (c: pg.Client) => {
      await c.query('INSERT INTO audit.checkpoints (kind, seq, hash, key_id, statement, signature) VALUES ($1, $2, $3, $4, $5, $6)', ['anchor', 40, Buffer.from(a.statement.hash, 'hex'), a.statement.keyId, canonicalJson(a.statement), a.signature]);
      await c.query('DELETE FROM audit.records WHERE seq <= 40');
      await c.query('DELETE FROM audit.record_positions WHERE seq <= 40');
    };
    // What retention writes: the anchor follows the newest trusted checkpoint (here the one at 40).
    const cp40 = lastCheckpoint.statement.previous!;
    expect(await tamperAndVerify(insertAndCut(await anchorAt40(cp40)))).toMatchObject({ ok: true, startedAfter: 40, records: 20 });
    const r = await tamperAndVerify(insertAndCut(await anchorAt40({ seq: 39, hash: 'ab'.repeat(32) })));
    expect(r).toMatchObject({ ok: false, startedAfter: 40 });
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'checkpoint-mismatch', position: 40 })]);
  });

  it('refuses an anchor row whose signature does not verify', async () => {
    const r = await tamperAndVerify(async (c) => {
      const row = (await c.query<{ statement: string }>('SELECT statement FROM audit.checkpoints WHERE seq = 40')).rows[0]!;
      const statement = JSON.stringify({ ...(JSON.parse(row.statement) as object), kind: 'anchor' });
      await c.query(`INSERT INTO audit.checkpoints (kind, seq, hash, key_id, statement, signature) SELECT 'anchor', seq, hash, key_id, $1, signature FROM audit.checkpoints WHERE seq = 40`, [statement]);
      await c.query('DELETE FROM audit.records WHERE seq <= 40');
    });
    expect(r).toMatchObject({ ok: false, startedAfter: 0, firstBadPosition: 1 });
    expect(r.problems.find((p) => p.kind === 'bad-signature')?.detail).toMatch(/signature does not match/);
  });

  it("finds a tail deleted with its ledger rows and checkpoint through the audit group's committed offsets", async () => {
    const c = new pg.Client({ connectionString: base.url });
    await c.connect();
    let committed: CommittedOffset[];
    try {
      // What the audit consumer group committed: the offset after the last record it appended.
      const r = await c.query<{ topic: string; kafka_partition: number; next: string }>('SELECT topic, kafka_partition, (max(kafka_offset) + 1)::text AS next FROM audit.record_positions GROUP BY 1, 2');
      committed = r.rows.map((x) => ({ topic: x.topic, partition: x.kafka_partition, offset: x.next }));
      // The ledger accepts only chain positions.
      await expect(c.query(`INSERT INTO audit.record_positions (topic, kafka_partition, kafka_offset, seq) VALUES ('x', 0, 1, 0)`)).rejects.toMatchObject({ code: '23514' });
    } finally {
      await c.end();
    }
    const tamper = async (db: pg.Client) => {
      await db.query('DELETE FROM audit.records WHERE seq > 55');
      await db.query('DELETE FROM audit.record_positions WHERE seq > 55');
      await db.query('DELETE FROM audit.checkpoints WHERE seq = 60');
    };
    expect((await tamperAndVerify(tamper, undefined, undefined, committed)).problems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'truncated', position: 56 })]));
    // Untouched, the same offsets agree with the ledger.
    expect((await tamperAndVerify(async () => undefined, undefined, undefined, committed)).ok).toBe(true);
  });

  /** Rewrites records from 44 on, recomputing every hash: only the checkpoint at 60 can tell. */
  const rewriteFrom44 = async (c: pg.Client) => {
    const rows = (await c.query(`SELECT ${RECORD_COLUMNS} FROM audit.records WHERE seq >= 44 ORDER BY seq`)).rows as RecordRow[];
    let prev = rows[0]!.prev_hash;
    for (const row of rows) {
      const entry = entryOf(row);
      if (entry.seq === 44) entry.content!.headers = { ...entry.content!.headers, 'forged-by': 'mallory' };
      const hash = linkHash(entry.seq, prev, contentHash(entry.content!));
      await c.query('UPDATE audit.records SET headers = $2, prev_hash = $3, hash = $4 WHERE seq = $1', [entry.seq, JSON.stringify(entry.content!.headers), prev, hash]);
      prev = hash;
    }
  };

  it('checks every stored checkpoint, however many pages they take (a mismatch in the newest one is found)', async () => {
    // One checkpoint per page: the one at 60 is on the second page.
    const r = await tamperAndVerify(rewriteFrom44, undefined, undefined, undefined, base, { checkpointPageSize: 1 });
    expect(r).toMatchObject({ ok: false, firstBadPosition: 41, checkpoints: { total: 2 } });
    expect(r.problems[0]).toMatchObject({ kind: 'checkpoint-mismatch', position: 41, until: 60 });
  });

  it('finds a rewrite that recomputed every hash, through the signed checkpoint', async () => {
    const r = await tamperAndVerify(async (c) => {
      const rows = (await c.query(`SELECT ${'seq, recorded_at, topic, kafka_partition, kafka_offset, record_key, kafka_timestamp, headers, payload, key_id, payload_json, schema_name, schema_version, schema_fingerprint, decode_error, ce_id, ce_type, ce_source, trace_id, person_id, entity_id, cause_ids, event_time, target, target_kind, outcome, dead_letter_of, prev_hash, hash'} FROM audit.records WHERE seq >= 44 ORDER BY seq`)).rows;
      let prev = (rows[0] as { prev_hash: Buffer }).prev_hash;
      for (const row of rows) {
        const entry = entryOf(row as never);
        if (entry.seq === 44) entry.content!.headers = { ...entry.content!.headers, 'forged-by': 'mallory' };
        const hash = linkHash(entry.seq, prev, contentHash(entry.content!));
        await c.query('UPDATE audit.records SET headers = $2, prev_hash = $3, hash = $4 WHERE seq = $1', [entry.seq, JSON.stringify(entry.content!.headers), prev, hash]);
        prev = hash;
      }
    });
    expect(r.problems[0]).toMatchObject({ kind: 'checkpoint-mismatch', position: 41, until: 60 });
    expect(r.firstBadPosition).toBe(41);
  });

  describe('attribution: the first bad position is the first one actually wrong (70 records, checkpoints at 40 and 60)', () => {
    const at = (tamper: (c: pg.Client) => Promise<void>) => tamperAndVerify(tamper, undefined, undefined, undefined, base70);
    const found = (r: VerificationReport) => r.problems.map((p) => [p.kind, p.position]);
    /** A copy of record 10 put at `seq`, the records from `seq` on shifted up by one (ledger untouched). */
    const insertCopyOf10 = (seq: number) => async (c: pg.Client) => {
      await c.query('UPDATE audit.records SET seq = seq + 1 WHERE seq >= $1', [seq]);
      await c.query('CREATE TEMP TABLE copy AS SELECT * FROM audit.records WHERE seq = 10');
      await c.query('UPDATE copy SET seq = $1', [seq]);
      await c.query('INSERT INTO audit.records SELECT * FROM copy');
    };

    beforeAll(async () => {
      base70 = await createTestDatabase('audittamper70');
      const store = await openStore(base70.url);
      await store.repo.append(consumed(40));
      expect((await store.chain.checkpoint())?.statement.seq).toBe(40);
      await store.repo.append(consumed(20));
      expect((await store.chain.checkpoint())?.statement.seq).toBe(60);
      expect(await store.repo.append(consumed(10))).toBe(10);
      await store.db.close();
    }, 60_000);

    it('a copy of record 10 inserted at 50, the rest shifted up: inserted at 50, not 10..49', async () => {
      const r = await at(insertCopyOf10(50));
      expect(r).toMatchObject({ ok: false, firstBadPosition: 50, checkpoints: { verified: 2 } });
      expect(found(r)).toEqual([['inserted', 50]]);
    });

    it('a copy of record 10 inserted at 65: inserted at 65', async () => {
      const r = await at(insertCopyOf10(65));
      expect(r).toMatchObject({ ok: false, firstBadPosition: 65 });
      expect(found(r)).toEqual([['inserted', 65]]);
    });

    it('a forged row appended at 71 with a made-up predecessor (its own hash recomputed): inserted at 71, nothing deleted', async () => {
      const r = await at(async (c) => {
        const row = (await c.query(`SELECT ${RECORD_COLUMNS} FROM audit.records WHERE seq = 70`)).rows[0] as RecordRow;
        const offset = String(BigInt(row.kafka_offset) + 1_000_000n);
        const prevHash = Buffer.alloc(32, 0xab);
        const entry = entryOf({ ...row, seq: '71', kafka_offset: offset });
        const hash = linkHash(71, prevHash, contentHash(entry.content!));
        await c.query('CREATE TEMP TABLE forged AS SELECT * FROM audit.records WHERE seq = 70');
        await c.query('UPDATE forged SET seq = 71, kafka_offset = $1, prev_hash = $2, hash = $3', [offset, prevHash, hash]);
        await c.query('INSERT INTO audit.records SELECT * FROM forged');
      });
      expect(r).toMatchObject({ ok: false, firstBadPosition: 71 });
      expect(found(r)).toEqual([['inserted', 71]]);
    });

    it('records 64 and 66 swapped: reordered at 64 and 66, 65 not accused', async () => {
      const r = await at(async (c) => {
        await c.query('UPDATE audit.records SET seq = -1 WHERE seq = 64');
        await c.query('UPDATE audit.records SET seq = 64 WHERE seq = 66');
        await c.query('UPDATE audit.records SET seq = 66 WHERE seq = -1');
      });
      expect(r).toMatchObject({ ok: false, firstBadPosition: 64 });
      expect(found(r)).toEqual([
        ['reordered', 64],
        ['reordered', 66],
      ]);
    });
  });

  it('the position ledger accepts no row without its record, so nobody (the runtime role included) can poison verification or appends through it', async () => {
    const db = await createTestDatabase('auditledgerguard');
    const store = await openStore(db.url);
    try {
      await store.repo.append(consumed(5));
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        // Triggers on: what any role that may INSERT into the ledger runs into.
        for (const seq of [6, 1_000_000_000_000]) {
          await expect(c.query(`INSERT INTO audit.record_positions (topic, kafka_partition, kafka_offset, seq) VALUES ('hr.lifecycle', 0, $1, $1)`, [seq])).rejects.toMatchObject({ code: '23503' });
        }
      } finally {
        await c.end();
      }
      expect(await store.repo.append(consumed(4))).toBe(4);
      expect(await store.chain.verify()).toMatchObject({ ok: true, records: 9, lastPosition: 9 });
    } finally {
      await store.db.close();
      await db.drop();
    }
  });

  it('records each Kafka record once, even when a batch is redelivered', async () => {
    const db = await createTestDatabase('auditdedupe');
    const store = await openStore(db.url);
    try {
      const batch = consumed(9);
      expect(await store.repo.append([...batch, ...batch.slice(0, 3)])).toBe(9);
      expect(await store.repo.append(batch)).toBe(0);
      expect(await store.repo.append([...batch.slice(5), ...consumed(2)])).toBe(2);
      expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit.records'))[0]!.n).toBe('11');
      expect((await store.chain.verify()).ok).toBe(true);
    } finally {
      await store.db.close();
      await db.drop();
    }
  });
});
