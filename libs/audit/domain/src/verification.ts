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
  /**
   * What the position ledger (`record_positions`) says about this record, when the caller has
   * it: `seq` is the position the ledger gives this record's topic/partition/offset (null: the
   * ledger does not know it), `here` whether the ledger has a row at this entry's position.
   */
  ledger?: { seq: number | null; here: boolean } | undefined;
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
/** How far a record without a known predecessor is searched for the position it hashes as. */
const SHIFT_SEARCH = 64;

/** A record already walked: where it is and where its hash says it belongs (null: nowhere known). */
interface Seen {
  seq: number;
  intended: number | null;
}

/** A record whose predecessor was not where it should be, waiting to see whether it shows up later. */
interface Unlinked {
  seq: number;
  selfConsistent: boolean;
  prevHash: Buffer;
  hash: Buffer;
  contentHash: Buffer;
  /** The position it hashes as, when found (≠ seq: it was moved or renumbered). */
  intended: number | null;
}

/** Records renumbered after an insertion or a deletion: one note on the problem that caused it. */
interface Renumbering {
  problem: Problem;
  by: number;
  from: number;
  to: number;
}

/**
 * Streams a chain segment in position order and reports what does not hold. Pure: the caller
 * feeds stored rows (from the database or an export file).
 *
 * Attribution: each record is checked against its own position (does its stored hash recompute
 * at this position from its stored predecessor hash and content?) and against its neighbour
 * (does it link to the stored hash before it?). A record that does not hash at its position is
 * placed where it does (its predecessor's position + 1, the ledger's position for its Kafka
 * record, or the shift of a renumbered run), so a moved record is reported where it sits and
 * where it belongs, an intact record next to it is never blamed, a copy of an earlier record
 * (same hash) is reported as inserted where the copy sits, and the records renumbered after an
 * insertion or deletion are one note on that problem rather than problems of their own.
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
  private readonly recent = new Map<string, Seen>();
  /** Rows whose predecessor was not where it should be, by their predecessor's hash. */
  private readonly unlinked = new Map<string, Unlinked>();
  private maxCheckpointSeq = 0;
  /** Highest position a record hashes as (a renumbered tail hashes below where it sits). */
  private maxIntended = 0;
  /** Records from here on are expected to hash as `position - shift`. */
  private shift = 0;
  private renumbering: Renumbering | undefined;
  /** A record that hashes as a later position: a deletion (with the rest renumbered) when the next record follows it. */
  private pendingDeletion: { seq: number; by: number; prevKey: string } | undefined;

  constructor(private readonly o: VerifierOptions) {
    this.running = o.start.hash;
    this.last = o.start.seq;
    this.lastGoodCheckpoint = o.start.seq;
    this.maxIntended = o.start.seq;
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
    const p = e.seq;
    let ch: Buffer;
    let contentChanged = false;
    if (e.content) {
      ch = hashContent(e.content);
      if (e.contentHash && !e.contentHash.equals(ch)) {
        contentChanged = true;
        this.report({ kind: 'modified', position: p, detail: `content of ${p} does not match its content hash` });
      }
      if (e.index) {
        const diff = indexDifferences(e.index, deriveIndex(e.content));
        if (diff.length > 0) this.report({ kind: 'modified', position: p, detail: `index columns of ${p} differ from its content: ${diff.join(', ')}` });
      }
    } else if (e.contentHash) {
      ch = e.contentHash;
    } else {
      throw new TypeError(`entry ${p} has neither content nor content hash`);
    }

    const hashKey = e.hash.toString('hex');
    const prev = e.prevHash ?? this.running;
    const prevKey = prev.toString('hex');
    const linked = prev.equals(this.running);
    const hashesAt = (q: number) => q >= 1 && linkHash(q, prev, ch).equals(e.hash);
    const inPlace = hashesAt(p);
    const pending = this.pendingDeletion;
    this.pendingDeletion = undefined;
    this.last = p;

    // A copy of a record already in the chain (same stored hash): it is what was inserted.
    const copyOf = this.recent.get(hashKey);
    if (copyOf !== undefined) {
      this.intruder(p, `record ${p} is a copy of record ${copyOf.seq} (same hash): it is not part of the chain`);
      return;
    }

    // A run renumbered after an insertion or deletion continues: one note, not a problem each.
    if (!inPlace && linked && this.shift !== 0 && hashesAt(p - this.shift)) {
      this.extendRenumbering(p);
      this.accept(e.hash, hashKey, p, p - this.shift);
      return;
    }
    // The record before hashes as a later position and this one follows it: records were deleted
    // before it and the rest renumbered down.
    if (pending && !inPlace && linked && hashesAt(p + pending.by)) {
      this.unlinked.delete(pending.prevKey);
      const problem: Problem = { kind: 'deleted', position: pending.seq, detail: `${pending.by} record(s) before ${pending.seq} were removed and the rest renumbered` };
      this.report(problem);
      this.shift = -pending.by;
      this.renumbering = { problem, by: -pending.by, from: pending.seq, to: pending.seq };
      this.extendRenumbering(p);
      this.accept(e.hash, hashKey, p, p + pending.by);
      return;
    }

    // The position ledger: a record it does not know, at a position it has no row for (or that
    // does not link where it sits), was inserted.
    if (e.ledger && e.ledger.seq === null && (!e.ledger.here || !linked) && !inPlace) {
      this.intruder(p, `record ${p} is not in the position ledger (its topic/partition/offset has no ledger row${e.ledger.here ? '' : `, and the ledger has no row at ${p}`}) and does not link to the record before it: it is not part of the chain`);
      return;
    }
    if (e.ledger && e.ledger.seq === null && !e.ledger.here) {
      this.intruder(p, `record ${p} is not in the position ledger, which has no row at ${p}: it is not part of the chain`);
      return;
    }

    // Where this record belongs, when not here.
    const before = this.recent.get(prevKey);
    const waiting = this.unlinked.get(hashKey);
    let intended: number | null = inPlace ? p : null;
    if (!inPlace) {
      const candidates: number[] = [];
      if (before) candidates.push((before.intended ?? before.seq) + 1);
      if (e.ledger?.seq != null) candidates.push(e.ledger.seq);
      if (waiting?.selfConsistent) candidates.push(waiting.seq - 1);
      intended = candidates.find((q) => q !== p && hashesAt(q)) ?? null;
      if (intended === null && !linked && !before) {
        for (let d = 1; d <= SHIFT_SEARCH && intended === null; d++) if (hashesAt(p + d)) intended = p + d;
      }
    }

    // Some record linked to this one before it showed up: that record is resolved now.
    if (waiting) {
      this.unlinked.delete(hashKey);
      if (!waiting.selfConsistent) {
        const belongs = (intended ?? p) + 1;
        const at = belongs !== waiting.seq && linkHash(belongs, waiting.prevHash, waiting.contentHash).equals(waiting.hash) ? ` where it belongs at ${belongs}` : '';
        this.report({ kind: 'reordered', position: waiting.seq, detail: `record ${waiting.seq} links to the record now at ${p}${at}` });
      }
    }

    if (inPlace) {
      if (!linked && !before) this.unlinked.set(prevKey, { seq: p, selfConsistent: true, prevHash: prev, hash: e.hash, contentHash: ch, intended: p });
      // Linked elsewhere but found: the record it links to is misplaced and reported where it sits.
    } else if (intended !== null) {
      if (!linked && before && intended === (before.intended ?? before.seq) + 1 && intended < p && !waiting && before.seq < p - 1) {
        // The chain skips what sits between its predecessor and it: those were inserted, and the
        // records from here on were renumbered up.
        const from = before.seq + 1;
        for (const [k, u] of this.unlinked) if (u.seq >= from && u.seq < p) this.unlinked.delete(k);
        const problem: Problem = { kind: 'inserted', position: from, until: p - 1, detail: `record ${p} links to ${before.seq}: ${from}..${p - 1} are not part of the chain` };
        this.report(problem);
        this.shift = p - intended;
        this.renumbering = { problem, by: this.shift, from: p, to: p };
      } else if (!linked && !before && !waiting && intended > p) {
        // Its predecessor is not (yet) seen: either it moved here from `intended` (its predecessor
        // shows up later), or records before it were deleted and the rest renumbered (the next
        // record follows it).
        this.unlinked.set(prevKey, { seq: p, selfConsistent: false, prevHash: prev, hash: e.hash, contentHash: ch, intended });
        this.pendingDeletion = { seq: p, by: intended - p, prevKey };
      } else {
        this.report({ kind: 'reordered', position: p, detail: `record ${p} belongs at ${intended} (it hashes as that position)${e.ledger?.seq === intended ? ', where the position ledger has it' : ''}` });
      }
    } else if (!contentChanged) {
      if (!linked && !before) {
        this.unlinked.set(prevKey, { seq: p, selfConsistent: false, prevHash: prev, hash: e.hash, contentHash: ch, intended: null });
      } else {
        this.report({ kind: 'modified', position: p, detail: `record ${p} does not match its hash` });
      }
    }
    if (e.ledger && e.ledger.seq === null && e.ledger.here && inPlace) {
      this.report({ kind: 'modified', position: p, detail: `the position ledger holds another Kafka record at ${p}` });
    }
    // Continue from the stored hash: the next record links to it, so one change is one finding.
    this.accept(e.hash, hashKey, p, intended ?? p);
  }

  /**
   * Ends the segment. `knownEnd` is the highest position other evidence says exists (e.g. the
   * position ledger); checkpoints beyond the last record count too.
   */
  finish(knownEnd?: number): VerificationReport {
    for (const [, u] of this.unlinked) {
      // Its predecessor is nowhere: either that record was replaced (this one still fits its
      // position), records were removed and the rest renumbered (this one hashes as a later
      // position), or it was never part of the chain (it hashes at no position near it).
      if (u.selfConsistent) this.report({ kind: 'modified', position: u.seq - 1, detail: `record ${u.seq - 1} was replaced: ${u.seq} links to a record that is not there` });
      else if (u.intended !== null && u.intended > u.seq) this.report({ kind: 'deleted', position: u.seq, detail: `records before ${u.seq} were removed and the rest renumbered` });
      else this.report({ kind: 'inserted', position: u.seq, detail: `record ${u.seq} links to a record that is nowhere and does not hash at its position: it is not part of the chain` });
    }
    this.unlinked.clear();
    if (this.renumbering) this.noteRenumbering();
    const proven = Math.max(this.maxCheckpointSeq, knownEnd ?? 0);
    const reached = Math.max(this.last, this.maxIntended);
    if (proven > reached) {
      this.report({ kind: 'truncated', position: reached + 1, until: proven, detail: `positions ${reached + 1}..${proven} existed (signed checkpoint or position ledger) but are gone` });
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

  /** A record that is not part of the chain: reported, and the chain continues around it. */
  private intruder(p: number, detail: string): void {
    const problem: Problem = { kind: 'inserted', position: p, detail };
    this.report(problem);
    if (this.renumbering) this.noteRenumbering();
    this.shift += 1;
    this.renumbering = { problem, by: this.shift, from: p + 1, to: p };
  }

  private extendRenumbering(p: number): void {
    if (this.renumbering) this.renumbering.to = p;
  }

  private noteRenumbering(): void {
    const r = this.renumbering;
    this.renumbering = undefined;
    if (!r || r.to < r.from) return;
    r.problem.detail += `; records ${r.from}..${r.to} after it are intact but renumbered (${r.by > 0 ? 'up' : 'down'} by ${Math.abs(r.by)}: they hash as ${r.from - r.by}..${r.to - r.by})`;
  }

  private accept(hash: Buffer, hashKey: string, seq: number, intended: number): void {
    this.running = hash;
    this.remember(hashKey, { seq, intended });
    this.maxIntended = Math.max(this.maxIntended, intended);
    this.checkCheckpoints(intended, hash);
  }

  /** Checks the checkpoints at `seq` against the stored hash of the record that belongs there. */
  private checkCheckpoints(seq: number, hash: Buffer): void {
    const list = this.checkpointsAt.get(seq);
    if (!list) return;
    this.checkpointsAt.delete(seq);
    for (const c of list) {
      if (c.statement.hash === hash.toString('hex')) {
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

  private remember(hash: string, seen: Seen): void {
    this.recent.set(hash, seen);
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
