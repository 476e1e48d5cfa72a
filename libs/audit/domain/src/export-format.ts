import { genesisHash } from './chain.js';
import type { SignedCheckpoint, TrustedKeys } from './checkpoint.js';
import type { RecordContent } from './record.js';
import { ChainVerifier, type VerificationReport } from './verification.js';

/**
 * The JSON Lines export: records of a time range, widened with hash-only `link` entries to the
 * signed checkpoints around it, so an auditor can verify it offline with the public key alone.
 *
 *   {"type":"header", ...}
 *   {"type":"start", "seq": s, "hash": ..., "basis": "genesis" | "checkpoint"}
 *   {"type":"checkpoint", "checkpoint": {...}}      every checkpoint in (s, end]
 *   {"type":"link", "seq", "prevHash", "hash", "contentHash"}   outside the range: content withheld
 *   {"type":"record", "seq", "prevHash", "hash", "content"}      inside the range
 *   {"type":"end", "records": n, "links": m}
 */
export const EXPORT_FORMAT = 'provisio-audit-export';

/**
 * What the range of an export selects: `recorded` (recording time: a contiguous segment of the
 * chain) or `event` (event time: matching records wherever they are, the rest as links).
 */
export type ExportSelection = 'recorded' | 'event';

export type ExportLine =
  | { type: 'header'; format: typeof EXPORT_FORMAT; version: 1; chainId: string; from: string; to: string; selection?: ExportSelection; generatedAt: string }
  | { type: 'start'; seq: number; hash: string; basis: 'genesis' | 'checkpoint' }
  | { type: 'checkpoint'; checkpoint: SignedCheckpoint }
  | { type: 'record'; seq: number; prevHash: string; hash: string; content: RecordContent }
  | { type: 'link'; seq: number; prevHash: string; hash: string; contentHash: string }
  | { type: 'end'; records: number; links: number };

export interface OfflineReport extends VerificationReport {
  /** Records with content in the file (the requested range). */
  recordsInRange: number;
  /** Whether the last entry is vouched for by a signed checkpoint at or after it. */
  tailCovered: boolean;
  format: string;
  /** Which time the export's range selected by (files without it: recording time). */
  selection: ExportSelection;
}

export class ExportFormatError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'ExportFormatError';
  }
}

function hex(v: unknown, line: number, field: string): Buffer {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new ExportFormatError(line, `${field} must be 64 lower-case hex digits`);
  return Buffer.from(v, 'hex');
}

/**
 * Verifies an export line by line (constant memory): header, start and checkpoint lines come
 * before the entries, as the exporter writes them.
 */
export class ExportVerifier {
  private n = 0;
  private header: Extract<ExportLine, { type: 'header' }> | undefined;
  private start: Extract<ExportLine, { type: 'start' }> | undefined;
  private readonly checkpoints: SignedCheckpoint[] = [];
  private verifier: ChainVerifier | undefined;
  private end: Extract<ExportLine, { type: 'end' }> | undefined;
  private recordsInRange = 0;

  constructor(private readonly keys: TrustedKeys) {}

  push(raw: string): void {
    this.n++;
    if (raw.trim() === '') return;
    let line: ExportLine;
    try {
      line = JSON.parse(raw) as ExportLine;
    } catch {
      throw new ExportFormatError(this.n, 'not JSON');
    }
    switch (line.type) {
      case 'header':
        if (line.format !== EXPORT_FORMAT || line.version !== 1) throw new ExportFormatError(this.n, `unsupported format ${String(line.format)} v${String(line.version)}`);
        this.header = line;
        return;
      case 'start':
        this.start = line;
        return;
      case 'checkpoint':
        if (this.verifier) throw new ExportFormatError(this.n, 'checkpoint lines must come before the entries');
        this.checkpoints.push(line.checkpoint);
        return;
      case 'record':
      case 'link': {
        const v = this.chain();
        const base = { seq: line.seq, hash: hex(line.hash, this.n, 'hash'), prevHash: hex(line.prevHash, this.n, 'prevHash') };
        if (line.type === 'record') {
          this.recordsInRange++;
          v.push({ ...base, content: line.content });
        } else {
          v.push({ ...base, contentHash: hex(line.contentHash, this.n, 'contentHash') });
        }
        return;
      }
      case 'end':
        this.end = line;
        return;
      default:
        throw new ExportFormatError(this.n, `unknown line type ${String((line as { type?: unknown }).type)}`);
    }
  }

  finish(): OfflineReport {
    const v = this.chain();
    const start = this.start!;
    const header = this.header!;
    let startProblem: string | null = null;
    if (start.basis === 'genesis') {
      if (start.seq !== 0 || !genesisHash(header.chainId).equals(Buffer.from(start.hash, 'hex'))) startProblem = 'start is not the genesis of this chain';
    } else if (!this.checkpoints.some((c) => c.statement.seq === start.seq && c.statement.hash === start.hash)) {
      startProblem = `no checkpoint in the file vouches for the start at ${start.seq}`;
    }
    const report = v.finish(this.end ? start.seq + this.end.records + this.end.links : undefined);
    if (startProblem) {
      report.problems.unshift({ kind: 'bad-signature', position: start.seq, detail: startProblem });
      report.ok = false;
      report.firstBadPosition = Math.min(report.firstBadPosition ?? start.seq, start.seq);
    }
    if (!this.end) {
      report.problems.push({ kind: 'truncated', position: report.lastPosition + 1, detail: 'the file has no end line: it was cut short' });
      report.ok = false;
      report.firstBadPosition ??= report.lastPosition + 1;
    }
    const tailCovered = report.checkpoints.latestVerified !== null && report.checkpoints.latestVerified >= report.lastPosition;
    return { ...report, recordsInRange: this.recordsInRange, tailCovered, format: `${header.format} v${header.version}`, selection: header.selection ?? 'recorded' };
  }

  private chain(): ChainVerifier {
    if (this.verifier) return this.verifier;
    if (!this.header) throw new ExportFormatError(this.n, 'missing header line');
    if (!this.start) throw new ExportFormatError(this.n, 'missing start line');
    this.verifier = new ChainVerifier({
      chainId: this.header.chainId,
      start: { seq: this.start.seq, hash: hex(this.start.hash, this.n, 'start.hash') },
      checkpoints: this.checkpoints,
      trustedKeys: this.keys,
    });
    return this.verifier;
  }
}

/** Verifies an export file's lines against trusted checkpoint keys. */
export function verifyExport(lines: Iterable<string>, keys: TrustedKeys): OfflineReport {
  const v = new ExportVerifier(keys);
  for (const l of lines) v.push(l);
  return v.finish();
}
