import { contentHash as hashContent, linkHash, type ChainHead } from './chain.js';
import { checkpointSignatureProblem, type SignedCheckpoint, type TrustedKeys } from './checkpoint.js';
import { deriveIndex, indexDifferences, type RecordContent, type RecordIndex } from './record.js';

export type ProblemKind =
  /** A record's content (or an index column) no longer matches its hash. */
  | 'modified'
  /** Positions are missing, or a record's predecessor is gone. */
  | 'deleted'
  /** A record that is not part of the chain sits between chained ones, or two records claim a position. */
  | 'inserted'
  /** A record links to a predecessor found at another position. */
  | 'reordered'
  /** Records a signed checkpoint (or the position ledger) proves existed are gone from the end. */
  | 'truncated'
  /** The chain was rewritten consistently, but disagrees with a signed checkpoint. */
  | 'checkpoint-mismatch'
  /** A checkpoint whose signature is invalid or made with an untrusted key. */
  | 'bad-signature'
  /** An export leaves out records of its range, or holds records from outside it. */
  | 'incomplete';

export interface Problem {
  kind: ProblemKind;
  /** First chain position affected. */
  position: number;
  /** Last position of the affected range, when it is a range. */
  until?: number;
  detail: string;
}

export interface VerifiableEntry {
  seq: number;
  /** The stored chain hash. */
  hash: Buffer;
  /** The stored predecessor hash, when the store keeps it. */
  prevHash?: Buffer | undefined;
  /** The content (recomputed), or only its hash (export context entries). */
  content?: RecordContent | undefined;
  contentHash?: Buffer | undefined;
  /** Stored index columns, compared with what the content derives. */
  index?: RecordIndex | undefined;
}

export interface VerificationReport {
  ok: boolean;
  chainId: string;
  /** Position verification started after (an anchor, a checkpoint or 0 for genesis). */
  startedAfter: number;
  /** Last position seen. */
  lastPosition: number;
  records: number;
  checkpoints: { total: number; verified: number; latestVerified: number | null };
  firstBadPosition: number | null;
  problems: Problem[];
  truncatedProblems: boolean;
}

export interface VerifierOptions {
  chainId: string;
  /** Where verification starts: the genesis hash at 0, or an anchor / checkpoint taken as trusted. */
  start: ChainHead;
  /** Checkpoints to check against (signatures are checked too). */
  checkpoints?: SignedCheckpoint[];
  trustedKeys: TrustedKeys;
  /** Stop collecting after this many problems (the first one is always kept). */
  maxProblems?: number;
}

const RECENT_HASHES = 50_000;

/**
 * Streams a chain segment in position order and reports what does not hold. Pure: the caller
 * feeds stored rows (from the database or an export file).
 */
export class ChainVerifier {
  private running: Buffer;
  private last: number;
  private count = 0;
  private readonly problems: Problem[] = [];
  private overflow = false;
  private readonly max: number;
  private readonly checkpointsAt = new Map<number, SignedCheckpoint[]>();
  private readonly totalCheckpoints: number;
  private verifiedCheckpoints = 0;
  private latestVerified: number | null = null;
  private lastGoodCheckpoint: number;
  private readonly recent = new Map<string, number>();
  /** Rows whose predecessor was not where it should be, waiting to see whether it shows up later. */
  private readonly unlinked = new Map<string, { seq: number; selfConsistent: boolean }>();
  private maxCheckpointSeq = 0;

  constructor(private readonly o: VerifierOptions) {
    this.running = o.start.hash;
    this.last = o.start.seq;
    this.lastGoodCheckpoint = o.start.seq;
    this.max = o.maxProblems ?? 100;
    const valid = (o.checkpoints ?? []).filter((c) => {
      if (c.statement.chainId !== o.chainId) {
        this.report({ kind: 'bad-signature', position: c.statement.seq, detail: `checkpoint belongs to chain ${c.statement.chainId}, not ${o.chainId}` });
        return false;
      }
      const bad = checkpointSignatureProblem(c, o.trustedKeys);
      if (bad) this.report({ kind: 'bad-signature', position: c.statement.seq, detail: `checkpoint at ${c.statement.seq}: ${bad}` });
      return bad === null;
    });
    this.totalCheckpoints = (o.checkpoints ?? []).length;
    for (const c of valid) {
      if (c.statement.seq <= o.start.seq) {
        if (c.statement.seq === o.start.seq && c.statement.hash !== o.start.hash.toString('hex')) {
          this.report({ kind: 'checkpoint-mismatch', position: c.statement.seq, detail: `checkpoint at ${c.statement.seq} disagrees with the starting point` });
        }
        continue;
      }
      const list = this.checkpointsAt.get(c.statement.seq) ?? [];
      list.push(c);
      this.checkpointsAt.set(c.statement.seq, list);
      this.maxCheckpointSeq = Math.max(this.maxCheckpointSeq, c.statement.seq);
    }
  }

  get position(): number {
    return this.last;
  }

  get head(): ChainHead {
    return { seq: this.last, hash: this.running };
  }

  push(e: VerifiableEntry): void {
    this.count++;
    const expected = this.last + 1;
    if (e.seq < expected) {
      this.report({ kind: 'inserted', position: e.seq, detail: `more than one record claims position ${e.seq}` });
      return;
    }
    if (e.seq > expected) {
      this.report({ kind: 'deleted', position: expected, until: e.seq - 1, detail: `positions ${expected}..${e.seq - 1} are missing` });
      this.running = e.prevHash ?? this.running;
    }
    let ch: Buffer;
    if (e.content) {
      ch = hashContent(e.content);
      if (e.contentHash && !e.contentHash.equals(ch)) this.report({ kind: 'modified', position: e.seq, detail: `content of ${e.seq} does not match its content hash` });
      if (e.index) {
        const diff = indexDifferences(e.index, deriveIndex(e.content));
        if (diff.length > 0) this.report({ kind: 'modified', position: e.seq, detail: `index columns of ${e.seq} differ from its content: ${diff.join(', ')}` });
      }
    } else if (e.contentHash) {
      ch = e.contentHash;
    } else {
      throw new TypeError(`entry ${e.seq} has neither content nor content hash`);
    }

    const hashKey = e.hash.toString('hex');
    // This record is the predecessor some earlier record links to: it was moved.
    const displaced = this.unlinked.get(hashKey);
    if (displaced !== undefined) {
      this.unlinked.delete(hashKey);
      this.report({ kind: 'reordered', position: displaced.seq, detail: `record ${displaced.seq} links to the record now at ${e.seq}` });
    }

    if (e.prevHash !== undefined && !e.prevHash.equals(this.running)) {
      const prevKey = e.prevHash.toString('hex');
      const at = this.recent.get(prevKey);
      const selfConsistent = linkHash(e.seq, e.prevHash, ch).equals(e.hash);
      if (at !== undefined && at < e.seq - 1 && displaced === undefined) {
        this.report({ kind: 'inserted', position: at + 1, until: e.seq - 1, detail: `record ${e.seq} links to ${at}: ${at + 1}..${e.seq - 1} are not part of the chain` });
      } else if (at === undefined) {
        this.unlinked.set(prevKey, { seq: e.seq, selfConsistent });
      }
    } else if (!linkHash(e.seq, this.running, ch).equals(e.hash)) {
      this.report({ kind: 'modified', position: e.seq, detail: `record ${e.seq} does not match its hash` });
    }
    // Continue from the stored hash: the next record links to it, so one change is one finding.
    this.running = e.hash;
    this.remember(hashKey, e.seq);
    this.last = e.seq;
    this.checkCheckpoints(e.seq);
  }

  /**
   * Ends the segment. `knownEnd` is the highest position other evidence says exists (e.g. the
   * position ledger); checkpoints beyond the last record count too.
   */
  finish(knownEnd?: number): VerificationReport {
    for (const [, u] of this.unlinked) {
      // Its predecessor is nowhere: either that record was replaced (this one still fits its
      // position) or records were removed and the rest renumbered (this one no longer fits).
      if (u.selfConsistent) this.report({ kind: 'modified', position: u.seq - 1, detail: `record ${u.seq - 1} was replaced: ${u.seq} links to a record that is not there` });
      else this.report({ kind: 'deleted', position: u.seq, detail: `records before ${u.seq} were removed and the rest renumbered` });
    }
    this.unlinked.clear();
    const proven = Math.max(this.maxCheckpointSeq, knownEnd ?? 0);
    if (proven > this.last) {
      this.report({ kind: 'truncated', position: this.last + 1, until: proven, detail: `positions ${this.last + 1}..${proven} existed (signed checkpoint or position ledger) but are gone` });
    }
    this.problems.sort((a, b) => a.position - b.position);
    return {
      ok: this.problems.length === 0,
      chainId: this.o.chainId,
      startedAfter: this.o.start.seq,
      lastPosition: this.last,
      records: this.count,
      checkpoints: { total: this.totalCheckpoints, verified: this.verifiedCheckpoints, latestVerified: this.latestVerified },
      firstBadPosition: this.problems[0]?.position ?? null,
      problems: this.problems,
      truncatedProblems: this.overflow,
    };
  }

  private checkCheckpoints(seq: number): void {
    const list = this.checkpointsAt.get(seq);
    if (!list) return;
    this.checkpointsAt.delete(seq);
    for (const c of list) {
      if (c.statement.hash === this.running.toString('hex')) {
        this.verifiedCheckpoints++;
        this.latestVerified = seq;
        this.lastGoodCheckpoint = seq;
      } else {
        // Every link held, yet the signed hash differs: the segment was rewritten consistently.
        this.report({
          kind: 'checkpoint-mismatch',
          position: this.lastGoodCheckpoint + 1,
          until: seq,
          detail: `signed checkpoint at ${seq} disagrees with the chain: records ${this.lastGoodCheckpoint + 1}..${seq} were rewritten`,
        });
      }
    }
  }

  private remember(hash: string, seq: number): void {
    this.recent.set(hash, seq);
    if (this.recent.size > RECENT_HASHES) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  private report(p: Problem): void {
    const prev = this.problems.at(-1);
    if (p.kind === 'modified' && prev?.kind === 'modified' && (prev.until ?? prev.position) === p.position - 1 && /does not match its hash/.test(p.detail)) {
      prev.until = p.position;
      prev.detail = `records ${prev.position}..${p.position} do not match their hashes`;
      return;
    }
    if (this.problems.length >= this.max) {
      this.overflow = true;
      if (p.position >= (this.problems[0]?.position ?? 0)) return;
    }
    this.problems.push(p);
  }
}
