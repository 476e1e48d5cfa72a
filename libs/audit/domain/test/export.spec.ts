import { describe, expect, it } from '@jest/globals';
import { canonicalJson, contentHash, genesisHash, verifyExport, type ExportLine } from '../src/index.js';
import { CHAIN_ID, buildChain, checkpointAt, keys } from './fixtures.js';

const at = (seq: number) => new Date(1_700_000_000_500 + seq).toISOString();

/** An export of positions from..to (recorded range), its neighbours as boundaries, links around. */
function exportLines(from: number, to: number, o: { boundaries?: boolean } = {}): string[] {
  const rows = buildChain(30);
  const cp10 = checkpointAt(rows, 10);
  const cp30 = checkpointAt(rows, 30, cp10);
  const lines: ExportLine[] = [
    { type: 'header', format: 'provisio-audit-export', version: 1, chainId: CHAIN_ID, from: at(from), to: at(to), generatedAt: 'c' },
    { type: 'start', seq: 10, hash: rows[9]!.hash.toString('hex'), basis: 'checkpoint' },
    { type: 'checkpoint', checkpoint: cp10 },
    { type: 'checkpoint', checkpoint: cp30 },
  ];
  let boundaries = 0;
  for (const r of rows.slice(10)) {
    const base = { seq: r.seq, prevHash: r.prevHash.toString('hex'), hash: r.hash.toString('hex') };
    if (r.seq >= from && r.seq <= to) lines.push({ type: 'record', ...base, content: r.content });
    else if ((o.boundaries ?? true) && (r.seq === from - 1 || r.seq === to + 1)) {
      boundaries++;
      lines.push({ type: 'boundary', ...base, content: r.content });
    } else lines.push({ type: 'link', ...base, contentHash: contentHash(r.content).toString('hex') });
  }
  lines.push({ type: 'end', records: to - from + 1, links: 20 - (to - from + 1) - boundaries, boundaries });
  return lines.map((l) => JSON.stringify(l));
}

/** Replaces the entry at `seq` by a hash-only link line (content withheld). */
function withheld(lines: string[], seq: number): string[] {
  return lines.map((l) => {
    const e = JSON.parse(l) as ExportLine;
    if ((e.type !== 'record' && e.type !== 'boundary') || e.seq !== seq) return l;
    return JSON.stringify({ type: 'link', seq: e.seq, prevHash: e.prevHash, hash: e.hash, contentHash: contentHash(e.content).toString('hex') });
  });
}

describe('offline verification of an export', () => {
  it('verifies a range between two signed checkpoints with hash-only context', () => {
    const report = verifyExport(exportLines(15, 20), keys);
    expect(report).toMatchObject({ ok: true, recordsInRange: 6, tailCovered: true, lastPosition: 30, checkpoints: { verified: 1 }, complete: true });
  });

  it('proves a recorded range complete only when nothing of it is withheld', () => {
    // A record of the range replaced by a link: every hash still holds, but the range has a hole.
    const hole = verifyExport(withheld(exportLines(15, 20), 17), keys);
    expect(hole).toMatchObject({ ok: false, complete: false, firstBadPosition: 17 });
    expect(hole.problems).toEqual([expect.objectContaining({ kind: 'incomplete', position: 17 })]);
    // The first or last record withheld: its link is then a neighbour that proves nothing.
    expect(verifyExport(withheld(exportLines(15, 20), 15), keys).problems).toEqual([expect.objectContaining({ kind: 'incomplete', position: 15 })]);
    expect(verifyExport(withheld(exportLines(15, 20), 20), keys).problems).toEqual([expect.objectContaining({ kind: 'incomplete', position: 20 })]);
    // Neighbours without content cannot show they lie outside the range.
    expect(verifyExport(exportLines(15, 20, { boundaries: false }), keys)).toMatchObject({ ok: false, firstBadPosition: 14 });
  });

  it('checks record times against the range of the header', () => {
    const lines = exportLines(15, 20);
    const header = JSON.parse(lines[0]!) as Extract<ExportLine, { type: 'header' }>;
    lines[0] = JSON.stringify({ ...header, to: at(18) });
    const r = verifyExport(lines, keys);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.position)).toEqual([19, 20]);
    // A boundary that lies inside the range is a record of it that the file leaves out.
    lines[0] = JSON.stringify({ ...header, from: at(14) });
    expect(verifyExport(lines, keys).problems).toEqual([expect.objectContaining({ kind: 'incomplete', position: 14 })]);
  });

  it('does not claim completeness when the range reaches the end of the file', () => {
    const r = verifyExport(exportLines(25, 30), keys);
    expect(r).toMatchObject({ ok: true, complete: false, tailCovered: true });
    expect(r.completeness).toMatch(/not covered/);
  });

  it('finds a record changed in the file', () => {
    const lines = exportLines(15, 20);
    const i = lines.findIndex((l) => l.includes('"seq":17'));
    const line = JSON.parse(lines[i]!) as Extract<ExportLine, { type: 'record' }>;
    line.content = { ...line.content, key: 'someone-else' };
    lines[i] = JSON.stringify(line);
    const report = verifyExport(lines, keys);
    expect(report.ok).toBe(false);
    expect(report.firstBadPosition).toBe(17);
  });

  it('refuses a start no checkpoint vouches for, and checks genesis starts', () => {
    const lines = exportLines(15, 20);
    lines[1] = JSON.stringify({ type: 'start', seq: 10, hash: 'ab'.repeat(32), basis: 'checkpoint' });
    expect(verifyExport(lines, keys).problems[0]).toMatchObject({ position: 10, detail: expect.stringMatching(/no checkpoint/) });
    const genesis = [JSON.stringify({ type: 'header', format: 'provisio-audit-export', version: 1, chainId: CHAIN_ID, from: at(1), to: at(2), generatedAt: 'c' }), JSON.stringify({ type: 'start', seq: 0, hash: genesisHash(CHAIN_ID).toString('hex'), basis: 'genesis' })];
    expect(verifyExport([...genesis, JSON.stringify({ type: 'end', records: 0, links: 0 })], keys)).toMatchObject({ ok: true, tailCovered: false });
    expect(verifyExport(genesis, keys).problems).toEqual([expect.objectContaining({ kind: 'truncated', detail: expect.stringMatching(/cut short/) })]);
    expect(canonicalJson({ b: 1, a: [1, { d: null, c: 'x' }] })).toBe('{"a":[1,{"c":"x","d":null}],"b":1}');
  });
});
