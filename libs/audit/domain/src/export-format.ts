import { genesisHash } from './chain.js';
import { checkpointSignatureProblem, type SignedCheckpoint, type TrustedKeys } from './checkpoint.js';
import { deriveIndex, type RecordContent } from './record.js';
import { ChainVerifier, type Problem, type VerificationReport } from './verification.js';

/**
 * The JSON Lines export: records of a time range, widened with hash-only `link` entries to the
 * signed checkpoints around it, so an auditor can verify it offline with the public key alone.
 *
 *   {"type":"header", ...}
 *   {"type":"start", "seq": s, "hash": ..., "basis": "genesis" | "checkpoint"}
 *   {"type":"checkpoint", "checkpoint": {...}}      every checkpoint in (s, end]
 *   {"type":"link", "seq", "prevHash", "hash", "contentHash"}   outside the range: content withheld
 *   {"type":"boundary", "seq", "prevHash", "hash", "content"}    the neighbours just outside a
 *                                                                `recorded` range, with content,
 *                                                                so their recording times prove
 *                                                                that nothing of the range is left out
 *   {"type":"record", "seq", "prevHash", "hash", "content"}      inside the range
 *   {"type":"end", "records": n, "links": m, "boundaries": b}
 *
 * What a `recorded` export proves, besides the integrity of every entry: the records of the range
 * are one contiguous run of the chain (no `link` between them), each with a recording time inside
 * [from, to]; the entry before the run (a boundary record, the signed start checkpoint, or
 * genesis) was recorded before `from`, and the entry after it (a boundary record) after `to`.
 * Recording times never decrease along the chain, so every record recorded in the range is in
 * the file. When the range reaches the end of the chain there is no entry after it, and the file
 * cannot prove that nothing was recorded in the range after the export (`complete` is false).
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
  | { type: 'boundary'; seq: number; prevHash: string; hash: string; content: RecordContent }
  | { type: 'end'; records: number; links: number; boundaries?: number };

export interface OfflineReport extends VerificationReport {
  /** Records with content in the file (the requested range). */
  recordsInRange: number;
  /** Whether the last entry is vouched for by a signed checkpoint at or after it. */
  tailCovered: boolean;
  format: string;
  /** Which time the export's range selected by (files without it: recording time). */
  selection: ExportSelection;
  /**
   * Whether the file proves that it holds every record of its range (`recorded` exports whose
   * range is closed by entries on both sides); `completeness` says why or why not. Records left
   * out of a range are problems (kind `incomplete`), never just `complete: false`.
   */
  complete: boolean;
  completeness: string;
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
  private range: { from: number; to: number } | undefined;
  /** Where a `recorded` export is: before its records, among them, or after them. */
  private phase: 'before' | 'in' | 'after' = 'before';
  /** The entry just before the current one: its position and, when known, its recording time. */
  private previous: { seq: number; recordedAt: number | null } | undefined;
  /** The first entry after the range's records. */
  private afterRange: { seq: number; recordedAt: number | null } | undefined;
  private readonly extra: Problem[] = [];

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
      case 'header': {
        if (line.format !== EXPORT_FORMAT || line.version !== 1) throw new ExportFormatError(this.n, `unsupported format ${String(line.format)} v${String(line.version)}`);
        const from = Date.parse(line.from);
        const to = Date.parse(line.to);
        if (!Number.isFinite(from) || !Number.isFinite(to)) throw new ExportFormatError(this.n, 'header from and to must be ISO 8601 times');
        this.header = line;
        this.range = { from, to };
        return;
      }
      case 'start':
        this.start = line;
        return;
      case 'checkpoint':
        if (this.verifier) throw new ExportFormatError(this.n, 'checkpoint lines must come before the entries');
        this.checkpoints.push(line.checkpoint);
        return;
      case 'record':
      case 'boundary':
      case 'link': {
        const v = this.chain();
        const base = { seq: line.seq, hash: hex(line.hash, this.n, 'hash'), prevHash: hex(line.prevHash, this.n, 'prevHash') };
        if (line.type === 'link') {
          v.push({ ...base, contentHash: hex(line.contentHash, this.n, 'contentHash') });
        } else {
          if (!line.content || typeof line.content !== 'object') throw new ExportFormatError(this.n, `${line.type} line without content`);
          if (line.type === 'record') this.recordsInRange++;
          v.push({ ...base, content: line.content });
        }
        this.checkCompleteness(line);
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
    } else if (!this.startCheckpoint()) {
      startProblem = `no checkpoint in the file vouches for the start at ${start.seq}`;
    }
    const report = v.finish(this.end ? start.seq + this.end.records + this.end.links + (this.end.boundaries ?? 0) : undefined);
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
    const selection = header.selection ?? 'recorded';
    let complete = false;
    let completeness: string;
    if (selection === 'event') {
      completeness = 'an event-time export proves the integrity of the records it holds, not that no record of the range is missing';
    } else if (this.phase === 'before') {
      completeness = 'the file holds no record of the range, and proves nothing about the records that might be missing';
    } else if (this.phase === 'in') {
      completeness = `the range reaches the last entry of the file (${report.lastPosition}): records appended after it are not covered`;
    } else if (this.afterRange?.recordedAt === null) {
      this.extra.push({ kind: 'incomplete', position: this.afterRange.seq, detail: `entry ${this.afterRange.seq} right after the range is a link: nothing proves it was recorded after ${header.to}` });
      completeness = 'the entry after the range is withheld';
    } else {
      complete = true;
      completeness = `every record recorded in [${header.from}, ${header.to}] is in the file: the entries on both sides of the range were recorded outside it`;
    }
    const problems = [...report.problems, ...this.extra].sort((a, b) => a.position - b.position);
    const ok = report.ok && this.extra.length === 0;
    if (!ok) complete = false;
    const tailCovered = report.checkpoints.latestVerified !== null && report.checkpoints.latestVerified >= report.lastPosition;
    return {
      ...report,
      ok,
      problems,
      firstBadPosition: problems[0]?.position ?? null,
      recordsInRange: this.recordsInRange,
      tailCovered,
      format: `${header.format} v${header.version}`,
      selection,
      complete,
      completeness,
    };
  }

  /** The signed checkpoint that vouches for a `checkpoint` start, if the file has it. */
  private startCheckpoint(): SignedCheckpoint | undefined {
    const start = this.start!;
    return this.checkpoints.find((c) => c.statement.seq === start.seq && c.statement.hash === start.hash && checkpointSignatureProblem(c, this.keys) === null);
  }

  /** Recorded exports: the records of the range are contiguous, inside it, and closed by entries outside it. */
  private checkCompleteness(line: Extract<ExportLine, { type: 'record' | 'boundary' | 'link' }>): void {
    const header = this.header!;
    const range = this.range!;
    const recordedAt = line.type === 'link' ? null : line.content.recordedAt;
    const entry = { seq: line.seq, recordedAt };
    const report = (position: number, detail: string) => {
      if (!this.extra.some((p) => p.position === position)) this.extra.push({ kind: 'incomplete', position, detail });
    };
    if ((header.selection ?? 'recorded') === 'event') {
      if (line.type === 'record') {
        const t = deriveIndex(line.content).eventTime;
        if (!(t >= range.from && t <= range.to)) report(line.seq, `record ${line.seq} has event time ${new Date(t).toISOString()}, outside the range`);
      }
      this.previous = entry;
      return;
    }
    if (line.type === 'record') {
      if (typeof recordedAt !== 'number' || !(recordedAt >= range.from && recordedAt <= range.to)) report(line.seq, `record ${line.seq} was recorded at ${typeof recordedAt === 'number' ? new Date(recordedAt).toISOString() : String(recordedAt)}, outside [${header.from}, ${header.to}]`);
      if (this.phase === 'before') {
        // What precedes the first record must provably lie before the range.
        const before = this.previous ?? this.startEntry();
        if (before.recordedAt === null) report(before.seq, `entry ${before.seq} right before the range is withheld (a link): nothing proves it was recorded before ${header.from}`);
        else if (before.recordedAt >= range.from) report(before.seq, `entry ${before.seq} right before the range was recorded at ${new Date(before.recordedAt).toISOString()}, inside the range, but is not in the file`);
      } else if (this.phase === 'after') {
        report(this.afterRange!.seq, `position ${this.afterRange!.seq} lies between records of the range but its record is withheld`);
      }
      this.phase = 'in';
    } else {
      if (this.phase === 'in') {
        this.phase = 'after';
        this.afterRange = entry;
      }
      if (line.type === 'boundary' && recordedAt !== null) {
        if (this.phase === 'before' && recordedAt >= range.from) report(line.seq, `boundary ${line.seq} was recorded at ${new Date(recordedAt).toISOString()}, inside the range, but is not a record of it`);
        if (this.phase === 'after' && recordedAt <= range.to) report(line.seq, `boundary ${line.seq} was recorded at ${new Date(recordedAt).toISOString()}, inside the range, but is not a record of it`);
      }
    }
    this.previous = entry;
  }

  /** The start as an entry: genesis precedes everything; a checkpoint start has its signed recording time. */
  private startEntry(): { seq: number; recordedAt: number | null } {
    const start = this.start!;
    if (start.basis === 'genesis') return { seq: start.seq, recordedAt: Number.NEGATIVE_INFINITY };
    return { seq: start.seq, recordedAt: this.startCheckpoint()?.statement.recordedAt ?? null };
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
