import { describe, expect, it } from '@jest/globals';
import { committedOffsetProblems, ledgerHoleProblems } from '../src/chain/chain.service.js';

/** What verification against the audit group's committed offsets reports, without Kafka or a database. */
describe('committed offsets against the position ledger', () => {
  const c = { topic: 'hr.lifecycle', partition: 2, offset: '500' };

  it('names each hole with its offsets and the stored records around it', () => {
    const problems = ledgerHoleProblems(
      c,
      [
        { after: { offset: 9n, seq: 40 }, before: { offset: 11n, seq: 41 } },
        { after: { offset: 20n, seq: 50 }, before: { offset: 25n, seq: 51 } },
      ],
      5n,
    );
    expect(problems.map((p) => [p.kind, p.position])).toEqual([
      ['deleted', 41],
      ['deleted', 51],
    ]);
    expect(problems[0]!.detail).toMatch(/^the position ledger has no row for hr\.lifecycle\/2 offset 10 \(between offset 9 at position 40 and 11 at position 41\), though the audit consumer group's committed offset \(500\) is past them/);
    expect(problems[1]!.detail).toContain('offsets 21..24 (between offset 20 at position 50 and 25 at position 51)');
    expect(problems[1]!.detail).not.toContain('more offsets');
  });

  it('counts the offsets missing beyond the holes listed', () => {
    const [only] = ledgerHoleProblems(c, [{ after: { offset: 0n, seq: 1 }, before: { offset: 3n, seq: 2 } }], 10n);
    expect(only!.detail).toMatch(/offsets 1\.\.2 .*; 8 more offsets of hr\.lifecycle\/2 are missing after it \(100 holes listed at most\)$/);
  });

  it('the tail: a committed offset beyond the ledger, nothing committed, and partitions retention emptied', () => {
    const ledger = new Map([[`hr.lifecycle\u00002`, { max: 497n }]]);
    expect(committedOffsetProblems(ledger, [c], false, 80)).toEqual([
      expect.objectContaining({ kind: 'truncated', position: 81, detail: expect.stringContaining('offsets 498..499 hold no records') as unknown as string }),
    ]);
    expect(committedOffsetProblems(ledger, [{ ...c, offset: '498' }, { ...c, partition: 3, offset: '-1' }], false, 80)).toEqual([]);
    expect(committedOffsetProblems(ledger, [{ ...c, partition: 3, offset: '7' }], true, 80)).toEqual([]);
    expect(committedOffsetProblems(ledger, [{ ...c, partition: 3, offset: '7' }], false, 80)).toEqual([expect.objectContaining({ kind: 'truncated', detail: expect.stringContaining('holds it only up to nothing') as unknown as string })]);
  });
});
