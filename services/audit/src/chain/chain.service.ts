import {
  ChainVerifier,
  canonicalJson,
  checkpointSignatureProblem,
  type CheckpointSigner,
  type CheckpointStatement,
  type Problem,
  type SignedCheckpoint,
  type TrustedKeys,
  type VerificationReport,
} from '@provisio/audit-domain';
import { gauge } from '@provisio/observability';
import { quoteIdent, type Database, type SqlClient } from '@provisio/persistence';
import type { Logger } from 'pino';
import { AccessBaseline } from '../store/access-baseline.js';
import { entryOf, type LedgerHole, type LedgerPartition, type RecordRepository } from '../store/record.repository.js';

export const CHAIN_SERVICE = Symbol('CHAIN_SERVICE');

const verifiedGauge = gauge('provisio_audit_chain_verified', '1 when the last verification of the chain (at checkpoint time) found no problem, else 0', []);
const checkpointGauge = gauge('provisio_audit_checkpoint_position', 'Chain position of the latest signed checkpoint', []);
const headGauge = gauge('provisio_audit_chain_head_position', 'Chain position of the latest appended record', []);

interface CheckpointRow {
  id: string;
  kind: string;
  seq: string;
  hash: Buffer;
  statement: string;
  signature: string;
  created_at: Date;
}

export function signedOf(r: Pick<CheckpointRow, 'statement' | 'signature'>): SignedCheckpoint {
  return { statement: JSON.parse(r.statement) as SignedCheckpoint['statement'], signature: r.signature };
}

export interface VerifyOptions {
  /** Verify from this position on (starting at the latest checkpoint before it). */
  fromSeq?: number | undefined;
  toSeq?: number | undefined;
  /** Extra checkpoints, e.g. read back from the Kafka topic (a copy outside the database). */
  extraCheckpoints?: SignedCheckpoint[] | undefined;
  /**
   * The audit consumer group's committed offsets (read from Kafka): every record before a
   * committed offset was appended before the commit, so the ledger must reach it; and a
   * partition is consumed in offset order, so the ledger has no hole between two offsets it holds.
   */
  committedOffsets?: CommittedOffset[] | undefined;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** The next offset the group will consume (Kafka's committed offset), decimal. */
  offset: string;
}

/**
 * Tail deletion that signed checkpoints cannot see (records, ledger rows and checkpoints after
 * the last one published to Kafka removed together): the audit group committed offsets past
 * what the ledger still holds. Partitions without any ledger row are compared only when the
 * chain was never cut by retention (which forgets ledger rows of dropped months).
 */
export function committedOffsetProblems(ledger: ReadonlyMap<string, Pick<LedgerPartition, 'max'>>, committed: CommittedOffset[], retentionCut: boolean, lastPosition: number): Problem[] {
  const out: Problem[] = [];
  for (const c of committed) {
    if (!/^\d+$/.test(c.offset)) continue; // -1: nothing committed
    const next = BigInt(c.offset);
    if (next === 0n) continue;
    const max = ledger.get(`${c.topic}\u0000${c.partition}`)?.max;
    if (max === undefined && retentionCut) continue;
    const have = max ?? -1n;
    if (have + 1n < next) {
      out.push({
        kind: 'truncated',
        position: lastPosition + 1,
        detail: `the audit consumer group committed ${c.topic}/${c.partition} up to offset ${next} but the position ledger holds it only up to ${have < 0n ? 'nothing' : String(have)}: records consumed and committed are gone (unless offsets ${have + 1n}..${next - 1n} hold no records, e.g. transaction markers)`,
      });
    }
  }
  return out;
}

/** Holes listed per partition at most; the rest are counted. */
export const MAX_HOLES_PER_PARTITION = 100;

/**
 * Records missing inside a partition: audit consumes a partition in offset order and never drops a
 * record, so offsets between two the ledger holds were consumed, and appended before the later
 * one. Not found by the chain walk when the chain after the newest checkpoint was rewritten
 * consistently (renumbered, hashes recomputed) without them, nor when offsets were committed past
 * records audit never stored. Reported at the position of the record after the hole.
 */
export function ledgerHoleProblems(c: CommittedOffset, holes: LedgerHole[], missing: bigint): Problem[] {
  let listed = 0n;
  const out = holes.map((h): Problem => {
    const first = h.after.offset + 1n;
    const last = h.before.offset - 1n;
    listed += last - first + 1n;
    return {
      kind: 'deleted',
      position: h.before.seq,
      detail: `the position ledger has no row for ${c.topic}/${c.partition} offset${first === last ? ` ${first}` : `s ${first}..${last}`} (between offset ${h.after.offset} at position ${h.after.seq} and ${h.before.offset} at position ${h.before.seq}), though the audit consumer group's committed offset (${c.offset}) is past them: records Kafka held there are not in the store (unless those offsets hold no records, e.g. transaction markers)`,
    };
  });
  const more = missing - listed;
  if (more > 0n && out.length > 0) out[out.length - 1]!.detail += `; ${more} more offsets of ${c.topic}/${c.partition} are missing after it (${MAX_HOLES_PER_PARTITION} holes listed at most)`;
  return out;
}

/** Adds problems found outside the chain walk (refused anchors) to a report, keeping it sorted. */
export function withProblems(report: VerificationReport, extra: Problem[]): VerificationReport {
  if (extra.length === 0) return report;
  const problems = [...report.problems, ...extra].sort((a, b) => a.position - b.position);
  return { ...report, ok: false, problems, firstBadPosition: problems[0]!.position };
}

/** Verification of the stored chain and the periodic signed checkpoints. */
export class ChainService {
  private readonly table: string;
  private readonly baseline: AccessBaseline;

  constructor(
    private readonly db: Database,
    private readonly repo: RecordRepository,
    /** Null for a verify-only service (an auditor's CLI: public keys only, read-only role). */
    private readonly signer: CheckpointSigner | null,
    private readonly trusted: TrustedKeys,
    private readonly logger: Logger,
    /** What is checked before signing; the default is the configuration's (AUDIT_CHECKPOINT_VERIFY). */
    private readonly checkpointVerify: 'links' | 'full' = 'links',
    private readonly options: { checkpointPageSize?: number } = {},
  ) {
    this.table = `${quoteIdent(repo.schema)}.checkpoints`;
    this.baseline = new AccessBaseline(repo.schema);
  }

  get publicKey() {
    return this.signing.publicKey;
  }

  get keyId(): string {
    return this.signing.keyId;
  }

  private get signing(): CheckpointSigner {
    if (!this.signer) throw new Error('this chain service verifies only: it holds no signing key');
    return this.signer;
  }

  async listCheckpoints(o: { afterId?: number; fromSeq?: number; toSeq?: number; limit?: number } = {}, sql: SqlClient = this.db.sql): Promise<(SignedCheckpoint & { id: number })[]> {
    const r = await sql.query<CheckpointRow>(
      `SELECT id, kind, seq, hash, statement, signature, created_at FROM ${this.table}
       WHERE id > $1 AND seq >= $2 AND seq <= $3 ORDER BY id LIMIT $4`,
      [o.afterId ?? 0, o.fromSeq ?? 0, o.toSeq ?? Number.MAX_SAFE_INTEGER, o.limit ?? 100_000],
    );
    return r.rows.map((x) => ({ id: Number(x.id), ...signedOf(x) }));
  }

  /** Every stored checkpoint with `fromSeq <= seq <= toSeq`, read in pages of `checkpointPageSize`. */
  async allCheckpoints(fromSeq: number, toSeq?: number): Promise<(SignedCheckpoint & { id: number })[]> {
    const limit = this.options.checkpointPageSize ?? 10_000;
    const out: (SignedCheckpoint & { id: number })[] = [];
    let afterId = 0;
    for (;;) {
      const page = await this.listCheckpoints({ afterId, fromSeq, toSeq, limit });
      out.push(...page);
      if (page.length < limit) return out;
      afterId = page.at(-1)!.id;
    }
  }

  /**
   * Walks the chain (from the retention anchor, or from the last checkpoint before `fromSeq`)
   * recomputing every hash and index column, checks every signed checkpoint in range, and
   * compares the end with the position ledger and the newest checkpoint (truncation).
   */
  async verify(o: VerifyOptions = {}): Promise<VerificationReport> {
    const chainId = await this.repo.chainId();
    const { start: anchor, rejected } = await this.repo.anchors();
    let start = { seq: anchor.seq, hash: anchor.hash };
    // Every stored checkpoint that can matter (from the one the anchor names, or the anchor, up
    // to toSeq), page by page: none is left out however many there are.
    const fromCheckpoint = Math.min(anchor.anchor?.statement.previous?.seq ?? anchor.seq, anchor.seq);
    const all = [...(await this.allCheckpoints(fromCheckpoint, o.toSeq)), ...(o.extraCheckpoints ?? []).map((c) => ({ id: 0, ...c }))];
    const extra: Problem[] = rejected.map((r) => ({ kind: 'bad-signature', position: r.seq, detail: r.detail }));
    // A genuine anchor still follows the checkpoints taken before it: the one it names must exist.
    const previous = anchor.anchor?.statement.previous;
    if (previous && !all.some((c) => c.statement.chainId === chainId && c.statement.seq === previous.seq && c.statement.hash === previous.hash && checkpointSignatureProblem(c, this.trusted) === null)) {
      extra.push({ kind: 'checkpoint-mismatch', position: anchor.seq, detail: `the anchor at ${anchor.seq} follows a checkpoint at ${previous.seq} that no trusted checkpoint matches` });
    }
    const baselineProblem = await this.baselineProblem(anchor.anchor?.statement);
    if (baselineProblem) extra.push(baselineProblem);
    if (o.fromSeq !== undefined && o.fromSeq - 1 > start.seq) {
      const candidates = all
        .filter((c) => c.statement.chainId === chainId && c.statement.seq <= o.fromSeq! - 1 && c.statement.seq >= start.seq)
        .sort((a, b) => b.statement.seq - a.statement.seq);
      const trusted = candidates.find((c) => checkpointSignatureProblem(c, this.trusted) === null);
      if (trusted) start = { seq: trusted.statement.seq, hash: Buffer.from(trusted.statement.hash, 'hex') };
    }
    const toSeq = o.toSeq ?? Number.MAX_SAFE_INTEGER;
    const checkpoints = all.filter((c) => c.statement.seq > start.seq && (o.toSeq === undefined || c.statement.seq <= toSeq));
    const verifier = new ChainVerifier({ chainId, start, checkpoints, trustedKeys: this.trusted });
    // The ledger's end is read before the walk: records appended meanwhile are walked too, never
    // mistaken for a truncated tail.
    const ledgerEnd = o.toSeq === undefined ? await this.repo.ledgerEnd() : undefined;
    for await (const page of this.repo.scan(start.seq, toSeq, 2000, undefined, true)) for (const row of page) verifier.push(entryOf(row));
    const report = verifier.finish(ledgerEnd);
    if (o.committedOffsets && o.toSeq === undefined) {
      const ledger = await this.repo.ledgerOffsets();
      extra.push(...committedOffsetProblems(ledger, o.committedOffsets, anchor.basis === 'anchor', report.lastPosition));
      for (const c of o.committedOffsets) {
        const l = ledger.get(`${c.topic}\u0000${c.partition}`);
        const missing = l ? l.max - l.min + 1n - l.count : 0n;
        if (missing > 0n) extra.push(...ledgerHoleProblems(c, await this.repo.ledgerHoles(c.topic, c.partition, MAX_HOLES_PER_PARTITION), missing));
      }
    }
    return withProblems(report, extra);
  }

  /**
   * The access state retention carried forward must be what the anchor signed (nothing carried
   * before any anchor, or under an anchor from before baselines existed).
   */
  private async baselineProblem(anchor: CheckpointStatement | undefined, retry = true): Promise<Problem | null> {
    const now = await this.baseline.digest(this.db.sql);
    const signed = anchor?.baseline ?? { accounts: 0, pendingCommands: 0, digest: null };
    if (signed.digest === null ? now.accounts + now.pendingCommands === 0 : signed.digest === now.digest) return null;
    // Retention may have committed a new anchor and baseline between the two reads.
    if (retry) return this.baselineProblem((await this.repo.anchors()).start.anchor?.statement, false);
    return {
      kind: 'modified',
      position: anchor?.seq ?? 0,
      detail: `the access state carried forward by retention (${now.accounts} accounts, ${now.pendingCommands} pending commands) differs from what the anchor at ${anchor?.seq ?? 0} signed (${signed.accounts} accounts, ${signed.pendingCommands} pending commands)`,
    };
  }

  /** The newest checkpoint row of this chain whose signature verifies with a trusted key. */
  async latestTrusted(sql: SqlClient = this.db.sql): Promise<SignedCheckpoint | null> {
    const chainId = await this.repo.chainId(sql);
    let before = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const r = await sql.query<CheckpointRow>(`SELECT id, kind, seq, hash, statement, signature, created_at FROM ${this.table} WHERE id < $1 ORDER BY id DESC LIMIT 100`, [before]);
      if (r.rows.length === 0) return null;
      let best: SignedCheckpoint | null = null;
      for (const row of r.rows) {
        let c: SignedCheckpoint;
        try {
          c = signedOf(row);
        } catch {
          continue;
        }
        if (c.statement.chainId !== chainId || Number(row.seq) !== c.statement.seq || row.hash.toString('hex') !== c.statement.hash) continue;
        if (checkpointSignatureProblem(c, this.trusted) !== null) continue;
        if (!best || c.statement.seq > best.statement.seq) best = c;
      }
      // Checkpoints are inserted in position order, so the newest trusted row is among the latest ones.
      if (best) return best;
      before = Number(r.rows.at(-1)!.id);
    }
  }

  /**
   * Takes a checkpoint of the current head, after verifying everything appended since the last
   * one: a tampered chain is never signed. Only one replica does it at a time.
   */
  async checkpoint(): Promise<SignedCheckpoint | null> {
    return this.db.transaction(async (tx) => {
      const lock = await tx.sql.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok', [`provisio:audit-checkpoint:${this.repo.schema}`]);
      if (!lock.rows[0]?.ok) return null;
      const chainId = await this.repo.chainId(tx.sql);
      // Only a checkpoint this service can trust: the runtime role may INSERT rows here too.
      const lastTrusted = await this.latestTrusted(tx.sql);
      const lastRow = lastTrusted ? { seq: lastTrusted.statement.seq, hash: Buffer.from(lastTrusted.statement.hash, 'hex') } : undefined;
      const anchor = await this.repo.chainStart(tx.sql);
      const start = lastRow && lastRow.seq >= anchor.seq ? { seq: lastRow.seq, hash: lastRow.hash } : { seq: anchor.seq, hash: anchor.hash };
      const head = await this.repo.head(tx.sql);
      headGauge.set({}, head.seq);
      if (head.seq <= start.seq) return null;
      const report = this.checkpointVerify === 'full' ? await this.verifyFull(tx.sql, chainId, start, head.seq) : await this.verifyLinks(tx.sql, start, head.seq);
      if (!report.ok) {
        verifiedGauge.set({}, 0);
        this.logger.error({ firstBadPosition: report.firstBadPosition, problems: report.problems.slice(0, 5) }, 'audit chain verification failed: not signing a checkpoint');
        return null;
      }
      verifiedGauge.set({}, 1);
      const signed = this.signing.sign({
        chainId,
        kind: 'periodic',
        seq: head.seq,
        hash: head.hash.toString('hex'),
        recordedAt: head.recordedAt,
        issuedAt: Date.now(),
        previous: lastRow ? { seq: lastRow.seq, hash: lastRow.hash.toString('hex') } : null,
      });
      await this.insert(tx.sql, signed);
      checkpointGauge.set({}, head.seq);
      return signed;
    });
  }

  private async verifyFull(sql: SqlClient, chainId: string, start: { seq: number; hash: Buffer }, until: number): Promise<{ ok: boolean; firstBadPosition: number | null; problems: unknown[] }> {
    const verifier = new ChainVerifier({ chainId, start, trustedKeys: this.trusted });
    for await (const page of this.repo.scan(start.seq, until, 2000, sql)) for (const row of page) verifier.push(entryOf(row));
    return verifier.finish(until);
  }

  /**
   * Positions without gaps or duplicates, each record linking to its predecessor's stored hash:
   * what is signed is the chain as appended. Content is re-hashed by full verification (the API,
   * the CLI, AUDIT_CHECKPOINT_VERIFY=full), which then also holds it against these signatures.
   */
  private async verifyLinks(sql: SqlClient, start: { seq: number; hash: Buffer }, until: number): Promise<{ ok: boolean; firstBadPosition: number | null; problems: unknown[] }> {
    let expected = start.seq + 1;
    let prev = start.hash;
    let after = start.seq;
    for (;;) {
      const r = await sql.query<{ seq: string; prev_hash: Buffer; hash: Buffer }>(
        `SELECT seq, prev_hash, hash FROM ${this.repo.records} WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT 20000`,
        [after, until],
      );
      for (const row of r.rows) {
        const seq = Number(row.seq);
        if (seq !== expected || !row.prev_hash.equals(prev)) return { ok: false, firstBadPosition: Math.min(seq, expected), problems: [{ position: Math.min(seq, expected), detail: `chain link broken at ${seq}` }] };
        prev = row.hash;
        expected++;
        after = seq;
      }
      if (r.rows.length < 20000) break;
    }
    if (expected !== until + 1) return { ok: false, firstBadPosition: expected, problems: [{ position: expected, detail: `positions ${expected}..${until} are missing` }] };
    return { ok: true, firstBadPosition: null, problems: [] };
  }

  async insert(sql: SqlClient, c: SignedCheckpoint): Promise<void> {
    await sql.query(`INSERT INTO ${this.table} (kind, seq, hash, key_id, statement, signature) VALUES ($1, $2, $3, $4, $5, $6)`, [
      c.statement.kind,
      c.statement.seq,
      Buffer.from(c.statement.hash, 'hex'),
      c.statement.keyId,
      canonicalJson(c.statement),
      c.signature,
    ]);
  }
}
