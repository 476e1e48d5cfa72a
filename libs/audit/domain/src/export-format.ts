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

export type ExportLine =
  | { type: 'header'; format: typeof EXPORT_FORMAT; version: 1; chainId: string; from: string; to: string; generatedAt: string }
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

/** Verifies an export file's lines (already split) against trusted checkpoint keys. */
export function verifyExport(lines: Iterable<string>, keys: TrustedKeys): OfflineReport {
  let n = 0;
  let header: Extract<ExportLine, { type: 'header' }> | undefined;
  let start: Extract<ExportLine, { type: 'start' }> | undefined;
  const checkpoints: SignedCheckpoint[] = [];
  const entries: Extract<ExportLine, { type: 'record' | 'link' }>[] = [];
  let end: Extract<ExportLine, { type: 'end' }> | undefined;
  for (const raw of lines) {
    n++;
    if (raw.trim() === '') continue;
    let line: ExportLine;
    try {
      line = JSON.parse(raw) as ExportLine;
    } catch {
      throw new ExportFormatError(n, 'not JSON');
    }
    switch (line.type) {
      case 'header':
        if (line.format !== EXPORT_FORMAT || line.version !== 1) throw new ExportFormatError(n, `unsupported format ${String(line.format)} v${String(line.version)}`);
        header = line;
        break;
      case 'start':
        start = line;
        break;
      case 'checkpoint':
        checkpoints.push(line.checkpoint);
        break;
      case 'record':
      case 'link':
        entries.push(line);
        break;
      case 'end':
        end = line;
        break;
      default:
        throw new ExportFormatError(n, `unknown line type ${String((line as { type?: unknown }).type)}`);
    }
  }
  if (!header) throw new ExportFormatError(1, 'missing header line');
  if (!start) throw new ExportFormatError(2, 'missing start line');
  const startHash = hex(start.hash, 2, 'start.hash');
  const verifier = new ChainVerifier({ chainId: header.chainId, start: { seq: start.seq, hash: startHash }, checkpoints, trustedKeys: keys });
  let startProblem: string | null = null;
  if (start.basis === 'genesis') {
    if (start.seq !== 0 || !genesisHash(header.chainId).equals(startHash)) startProblem = 'start is not the genesis of this chain';
  } else if (!checkpoints.some((c) => c.statement.seq === start.seq && c.statement.hash === start.hash)) {
    startProblem = `no checkpoint in the file vouches for the start at ${start.seq}`;
  }
  let recordsInRange = 0;
  for (const e of entries) {
    if (e.type === 'record') {
      recordsInRange++;
      verifier.push({ seq: e.seq, hash: hex(e.hash, 0, 'hash'), prevHash: hex(e.prevHash, 0, 'prevHash'), content: e.content });
    } else {
      verifier.push({ seq: e.seq, hash: hex(e.hash, 0, 'hash'), prevHash: hex(e.prevHash, 0, 'prevHash'), contentHash: hex(e.contentHash, 0, 'contentHash') });
    }
  }
  const report = verifier.finish(end ? start.seq + end.records + end.links : undefined);
  if (startProblem) {
    report.problems.unshift({ kind: 'bad-signature', position: start.seq, detail: startProblem });
    report.ok = false;
    report.firstBadPosition = Math.min(report.firstBadPosition ?? start.seq, start.seq);
  }
  const tailCovered = report.checkpoints.latestVerified !== null && report.checkpoints.latestVerified >= report.lastPosition;
  return { ...report, recordsInRange, tailCovered, format: `${header.format} v${header.version}` };
}
