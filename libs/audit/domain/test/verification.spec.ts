import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { ChainVerifier, checkpointSigner, contentHash, deriveIndex, genesisHash, linkHash, trustedKeys, type VerificationReport } from '../src/index.js';
import { CHAIN_ID, buildChain, checkpointAt, content, keys, type Row } from './fixtures.js';

/** The position ledger of an untouched chain: Kafka position → chain position. */
interface Ledger {
  byKafka: Map<string, number>;
  positions: Set<number>;
}
const kafkaKey = (r: Row) => `${r.content.topic}/${r.content.partition}/${r.content.offset}`;
function ledgerOf(rows: Row[]): Ledger {
  return { byKafka: new Map(rows.map((r) => [kafkaKey(r), r.seq])), positions: new Set(rows.map((r) => r.seq)) };
}

function verify(rows: Row[], o: { checkpoints?: ReturnType<typeof checkpointAt>[]; knownEnd?: number; ledger?: Ledger } = {}): VerificationReport {
  const v = new ChainVerifier({ chainId: CHAIN_ID, start: { seq: 0, hash: genesisHash(CHAIN_ID) }, checkpoints: o.checkpoints ?? [], trustedKeys: keys });
  for (const r of [...rows].sort((a, b) => a.seq - b.seq)) {
    const ledger = o.ledger ? { seq: o.ledger.byKafka.get(kafkaKey(r)) ?? null, here: o.ledger.positions.has(r.seq) } : undefined;
    v.push({ seq: r.seq, hash: r.hash, prevHash: r.prevHash, content: r.content, index: r.index, ledger });
  }
  return v.finish(o.knownEnd ?? (o.ledger ? Math.max(...o.ledger.positions) : undefined));
}

/** What a tamperer who can also recompute hashes (they are not keyed) does after a change. */
function rehashFrom(rows: Row[], fromIndex: number): void {
  for (let i = fromIndex; i < rows.length; i++) {
    const prev = i === 0 ? genesisHash(CHAIN_ID) : rows[i - 1]!.hash;
    rows[i]!.prevHash = prev;
    rows[i]!.hash = linkHash(rows[i]!.seq, prev, contentHash(rows[i]!.content));
  }
}

const kinds = (r: VerificationReport) => [...new Set(r.problems.map((p) => p.kind))];

describe('ChainVerifier', () => {
  it('accepts an intact chain and its checkpoints', () => {
    const rows = buildChain(50);
    const report = verify(rows, { checkpoints: [checkpointAt(rows, 20), checkpointAt(rows, 50)] });
    expect(report).toMatchObject({ ok: true, records: 50, lastPosition: 50, firstBadPosition: null, checkpoints: { total: 2, verified: 2, latestVerified: 50 } });
  });

  it('finds a modified record (content changed, hash left alone)', () => {
    const rows = buildChain(30);
    rows[11]!.content = { ...rows[11]!.content, json: { eventId: 'ev-12', personId: 'someone-else' } };
    rows[11]!.index = { ...rows[11]!.index, personId: 'someone-else' };
    const r = verify(rows);
    expect(r.ok).toBe(false);
    expect(r.firstBadPosition).toBe(12);
    expect(kinds(r)).toEqual(['modified']);
  });

  it('finds a modified record whose hash was recomputed', () => {
    const rows = buildChain(30);
    rows[9]!.content = { ...rows[9]!.content, headers: { ...rows[9]!.content.headers, ce_type: 'forged' } };
    rows[9]!.index = { ...rows[9]!.index, ceType: 'forged' };
    rows[9]!.hash = linkHash(10, rows[9]!.prevHash, contentHash(rows[9]!.content)); // the successor still links to the original
    const r = verify(rows);
    expect(r.firstBadPosition).toBe(10);
    expect(kinds(r)).toContain('modified');
  });

  it('finds an index column changed without touching the content', () => {
    const rows = buildChain(10);
    rows[4]!.index = { ...rows[4]!.index, target: 'pg-main' };
    const r = verify(rows);
    expect(r.firstBadPosition).toBe(5);
    expect(r.problems[0]!.detail).toMatch(/index columns of 5 differ from its content: target/);
  });

  it('finds deleted records (gap) and deleted-then-renumbered records', () => {
    const rows = buildChain(30);
    const gap = verify(rows.filter((r) => r.seq !== 7 && r.seq !== 8));
    expect(gap.firstBadPosition).toBe(7);
    expect(gap.problems[0]).toMatchObject({ kind: 'deleted', position: 7, until: 8 });

    const renumbered = buildChain(30).filter((r) => r.seq !== 7);
    for (const r of renumbered) if (r.seq > 7) r.seq -= 1;
    const rn = verify(renumbered);
    expect(rn.firstBadPosition).toBe(7);
    expect(kinds(rn)).toContain('deleted');
  });

  it('finds an inserted record: a duplicate position, and an insertion with the tail renumbered', () => {
    const rows = buildChain(20);
    const forged = { ...rows[5]!, content: content(99) };
    const dup = verify([...rows, forged]);
    expect(dup.firstBadPosition).toBe(6);
    expect(kinds(dup)).toContain('inserted');

    const shifted = buildChain(20);
    for (const r of shifted) if (r.seq >= 6) r.seq += 1;
    const forgedContent = content(77);
    const prevHash = shifted[4]!.hash;
    const fake: Row = { seq: 6, prevHash, hash: linkHash(6, prevHash, contentHash(forgedContent)), content: forgedContent, index: deriveIndex(forgedContent) };
    const ins = verify([...shifted, fake]);
    expect(ins.firstBadPosition).toBe(6);
    expect(kinds(ins)).toContain('inserted');
  });

  it('finds reordered records', () => {
    const rows = buildChain(20);
    const a = rows[4]!;
    const b = rows[6]!;
    [a.seq, b.seq] = [b.seq, a.seq];
    const r = verify(rows);
    expect(r.firstBadPosition).toBe(5);
    expect(kinds(r)).toContain('reordered');
  });

  describe('attributes a tampering to the positions actually wrong (70 records, checkpoints at 40 and 60)', () => {
    const chain = () => {
      const rows = buildChain(70);
      return { rows, checkpoints: [checkpointAt(rows, 40), checkpointAt(rows, 60)], ledger: ledgerOf(rows) };
    };
    /** A copy of record `of` put at `at`, the records from `at` on shifted up by one. */
    const insertCopy = (rows: Row[], of: number, at: number): Row[] => [...rows.map((r) => (r.seq >= at ? { ...r, seq: r.seq + 1 } : r)), { ...rows[of - 1]!, seq: at }];

    for (const withLedger of [true, false]) {
      const label = withLedger ? 'with the position ledger' : 'from the chain alone';
      it.each([50, 65])(`a copy of record 10 inserted at %i, the rest renumbered: inserted there, nothing before it accused (${label})`, (at) => {
        const { rows, checkpoints, ledger } = chain();
        const r = verify(insertCopy(rows, 10, at), { checkpoints, ...(withLedger ? { ledger } : {}) });
        expect(r).toMatchObject({ ok: false, firstBadPosition: at, checkpoints: { verified: 2 } });
        expect(r.problems).toEqual([expect.objectContaining({ kind: 'inserted', position: at })]);
        expect(r.problems[0]!.detail).toMatch(new RegExp(`copy of record 10.*records ${at + 1}\\.\\.71 after it are intact but renumbered`));
      });

      it(`records 64 and 66 swapped: reordered at 64 and 66, 65 untouched (${label})`, () => {
        const { rows, checkpoints, ledger } = chain();
        [rows[63]!.seq, rows[65]!.seq] = [66, 64];
        const r = verify(rows, { checkpoints, ...(withLedger ? { ledger } : {}) });
        expect(r).toMatchObject({ ok: false, firstBadPosition: 64 });
        expect(r.problems.map((p) => [p.kind, p.position])).toEqual([
          ['reordered', 64],
          ['reordered', 66],
        ]);
      });
    }

    it('a forged row appended at 71 with a made-up predecessor: inserted at 71, nothing deleted', () => {
      const { rows, checkpoints, ledger } = chain();
      const forgedContent = content(71, { offset: '9071' });
      const prevHash = Buffer.alloc(32, 7);
      const selfConsistent: Row = { seq: 71, prevHash, hash: linkHash(71, prevHash, contentHash(forgedContent)), content: forgedContent, index: deriveIndex(forgedContent) };
      const withLedger = verify([...rows, selfConsistent], { checkpoints, ledger });
      expect(withLedger).toMatchObject({ ok: false, firstBadPosition: 71 });
      expect(withLedger.problems).toEqual([expect.objectContaining({ kind: 'inserted', position: 71 })]);
      // Without the ledger, a row whose hash does not even fit its position is not part of the chain either.
      const chainOnly = verify([...rows, { ...selfConsistent, hash: Buffer.alloc(32, 9) }], { checkpoints });
      expect(chainOnly.problems).toEqual([expect.objectContaining({ kind: 'inserted', position: 71 })]);
    });
  });

  it('finds a truncated tail from a signed checkpoint or the position ledger', () => {
    const rows = buildChain(40);
    const cp = checkpointAt(rows, 40);
    const r = verify(rows.slice(0, 33), { checkpoints: [cp] });
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'truncated', position: 34, until: 40 })]);
    const ledger = verify(rows.slice(0, 38), { knownEnd: 40 });
    expect(ledger.firstBadPosition).toBe(39);
  });

  it('finds a consistent rewrite through the signed checkpoint, reporting the range since the last good one', () => {
    const rows = buildChain(60);
    const cps = [checkpointAt(rows, 20), checkpointAt(rows, 40), checkpointAt(rows, 60)];
    rows[29]!.content = { ...rows[29]!.content, key: 'victim' };
    rows[29]!.index = { ...rows[29]!.index, personId: 'victim' };
    rehashFrom(rows, 29);
    const r = verify(rows, { checkpoints: cps });
    expect(r.firstBadPosition).toBe(21);
    expect(r.problems[0]).toMatchObject({ kind: 'checkpoint-mismatch', position: 21, until: 40 });
  });

  it('rejects checkpoints with a bad signature or from an untrusted key', () => {
    const rows = buildChain(10);
    const cp = checkpointAt(rows, 10);
    const tampered = { ...cp, statement: { ...cp.statement, seq: 9 } };
    const other = checkpointSigner(generateKeyPairSync('ed25519').privateKey).sign({ ...cp.statement });
    const r = verify(rows, { checkpoints: [tampered, other] });
    expect(r.problems.map((p) => p.detail)).toEqual([expect.stringMatching(/signature does not match/), expect.stringMatching(/unknown key/)]);
    expect(() => trustedKeys([generateKeyPairSync('x25519').publicKey])).toThrow(/Ed25519/);
  });

  it('property: any single tampering of a random chain is found at the position it happened', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 60 }), fc.nat(), fc.constantFrom('modify', 'delete', 'duplicate', 'swap', 'truncate'), (n, pick, kind) => {
        const rows = buildChain(n);
        const i = pick % (n - 2) + 1; // never the first or last, so a neighbour exists
        let expected = i + 1;
        let mutated: Row[] = rows;
        const cps = [checkpointAt(rows, n)];
        switch (kind) {
          case 'modify':
            rows[i]!.content = { ...rows[i]!.content, offset: `${rows[i]!.content.offset}0` };
            break;
          case 'delete':
            mutated = rows.filter((_, j) => j !== i);
            break;
          case 'duplicate':
            mutated = [...rows, { ...rows[i]!, content: content(1000 + i) }];
            break;
          case 'swap': {
            const a = rows[i - 1]!;
            const b = rows[i]!;
            [a.seq, b.seq] = [b.seq, a.seq];
            expected = i;
            break;
          }
          case 'truncate':
            mutated = rows.slice(0, i);
            break;
        }
        const r = verify(mutated, { checkpoints: cps });
        return !r.ok && r.firstBadPosition === expected;
      }),
      { numRuns: 300 },
    );
  });
});
