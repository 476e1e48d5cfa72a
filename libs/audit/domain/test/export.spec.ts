import { describe, expect, it } from '@jest/globals';
import { canonicalJson, contentHash, genesisHash, verifyExport, type ExportLine } from '../src/index.js';
import { CHAIN_ID, buildChain, checkpointAt, keys } from './fixtures.js';

function exportLines(from: number, to: number): string[] {
  const rows = buildChain(30);
  const cp10 = checkpointAt(rows, 10);
  const cp30 = checkpointAt(rows, 30, cp10);
  const lines: ExportLine[] = [
    { type: 'header', format: 'provisio-audit-export', version: 1, chainId: CHAIN_ID, from: 'a', to: 'b', generatedAt: 'c' },
    { type: 'start', seq: 10, hash: rows[9]!.hash.toString('hex'), basis: 'checkpoint' },
    { type: 'checkpoint', checkpoint: cp10 },
    { type: 'checkpoint', checkpoint: cp30 },
  ];
  for (const r of rows.slice(10)) {
    const base = { seq: r.seq, prevHash: r.prevHash.toString('hex'), hash: r.hash.toString('hex') };
    lines.push(r.seq >= from && r.seq <= to ? { type: 'record', ...base, content: r.content } : { type: 'link', ...base, contentHash: contentHash(r.content).toString('hex') });
  }
  lines.push({ type: 'end', records: to - from + 1, links: 20 - (to - from + 1) });
  return lines.map((l) => JSON.stringify(l));
}

describe('offline verification of an export', () => {
  it('verifies a range between two signed checkpoints with hash-only context', () => {
    const report = verifyExport(exportLines(15, 20), keys);
    expect(report).toMatchObject({ ok: true, recordsInRange: 6, tailCovered: true, lastPosition: 30, checkpoints: { verified: 1 } });
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
    const genesis = [JSON.stringify({ type: 'header', format: 'provisio-audit-export', version: 1, chainId: CHAIN_ID, from: 'a', to: 'b', generatedAt: 'c' }), JSON.stringify({ type: 'start', seq: 0, hash: genesisHash(CHAIN_ID).toString('hex'), basis: 'genesis' })];
    expect(verifyExport([...genesis, JSON.stringify({ type: 'end', records: 0, links: 0 })], keys)).toMatchObject({ ok: true, tailCovered: false });
    expect(verifyExport(genesis, keys).problems).toEqual([expect.objectContaining({ kind: 'truncated', detail: expect.stringMatching(/cut short/) })]);
    expect(canonicalJson({ b: 1, a: [1, { d: null, c: 'x' }] })).toBe('{"a":[1,{"c":"x","d":null}],"b":1}');
  });
});
