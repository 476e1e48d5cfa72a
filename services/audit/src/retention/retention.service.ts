import { ChainVerifier, type CheckpointSigner, type TrustedKeys } from '@provisio/audit-domain';
import { quoteIdent } from '@provisio/persistence';
import pg from 'pg';
import type { Logger } from 'pino';
import type { ChainService } from '../chain/chain.service.js';
import { AccessBaseline } from '../store/access-baseline.js';
import { entryOf, type RecordRepository } from '../store/record.repository.js';

export interface RetentionOutcome {
  dropped: string[];
  /** The signed anchor verification now starts from, when records were dropped. */
  anchor: { seq: number; hash: string } | null;
}

/** How long the cut may wait for the append lock and for readers of the records table (a waiting DROP holds up appends and reads behind it, so this stays short). */
export const RETENTION_LOCK_TIMEOUT_MS = 5_000;

export class RetentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetentionError';
  }
}

/** First instant of the month `monthsBack` months before the month of `now` (UTC). */
export function retentionCutoff(now: Date, keepMonths: number): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - keepMonths, 1));
}

/**
 * Drops whole monthly partitions older than the retention, as the schema owner. The chain is
 * verified up to the cut first, the access state at the cut is carried forward (see
 * AccessBaseline) — both beside ongoing appends — then, holding the append lock only for that, a signed anchor checkpoint (position and hash of the last dropped record,
 * digest of the carried access) is stored: verification of what remains starts from it. Positions and record
 * times rise together, so the dropped records are always a prefix of the chain.
 */
export class RetentionService {
  constructor(
    private readonly ownerUrl: string,
    private readonly repo: RecordRepository,
    private readonly chain: ChainService,
    private readonly signer: CheckpointSigner,
    private readonly trusted: TrustedKeys,
    private readonly logger: Logger,
  ) {}

  async apply(keepMonths: number, now = new Date()): Promise<RetentionOutcome> {
    const cutoff = retentionCutoff(now, keepMonths);
    const s = quoteIdent(this.repo.schema);
    const client = new pg.Client({ connectionString: this.ownerUrl, application_name: 'provisio-audit-retention' });
    await client.connect();
    try {
      await client.query('BEGIN');
      // One retention at a time (replicas may schedule it together). Appends are not stopped
      // yet: they only ever write the current month, never the months being dropped, and
      // positions up to the cut never change, so verifying and gathering the carried access —
      // the long part, minutes for a big month — runs beside them.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.repo.lockKey}:retention`]);
      const parts = await client.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'records' ORDER BY c.relname`,
        [this.repo.schema],
      );
      const victims = parts.rows
        .map((r) => ({ name: r.name, m: /^records_p(\d{4})(\d{2})$/.exec(r.name) }))
        .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null)
        .filter((x) => Date.UTC(Number(x.m[1]), Number(x.m[2]), 1) <= cutoff.getTime())
        .map((x) => x.name);
      if (victims.length === 0) {
        await client.query('ROLLBACK');
        return { dropped: [], anchor: null };
      }
      const lastOfVictims = async (): Promise<number | null> => {
        const last = await client.query<{ seq: string | null }>(`SELECT max(seq) AS seq FROM (${victims.map((v) => `SELECT max(seq) AS seq FROM ${s}.${quoteIdent(v)}`).join(' UNION ALL ')}) x`);
        return last.rows[0]?.seq === null || last.rows[0]?.seq === undefined ? null : Number(last.rows[0].seq);
      };
      const cut = await lastOfVictims();
      let verified: { chainId: string; head: Buffer; recordedAt: number; baseline: Awaited<ReturnType<AccessBaseline['carryTo']>> } | null = null;
      if (cut !== null) {
        const chainId = await this.repo.chainId(client);
        const start = await this.repo.chainStart(client);
        const checkpoints = (await this.chain.listCheckpoints({ fromSeq: start.seq + 1, toSeq: cut }, client)).map(({ id: _id, ...c }) => c);
        const verifier = new ChainVerifier({ chainId, start, checkpoints, trustedKeys: this.trusted });
        for await (const page of this.repo.scan(start.seq, cut, 2000, client)) for (const row of page) verifier.push(entryOf(row));
        const report = verifier.finish();
        if (!report.ok || report.lastPosition !== cut) {
          throw new RetentionError(`not dropping partitions: the chain up to ${cut} does not verify (first bad position ${report.firstBadPosition ?? report.lastPosition + 1})`);
        }
        const lastRow = await client.query<{ recorded_at: Date }>(`SELECT recorded_at FROM ${this.repo.records} WHERE seq = $1`, [cut]);
        // Who has access must not change because the records proving it are dropped.
        const baseline = await new AccessBaseline(this.repo.schema).carryTo(client, cut);
        // The ledger rows of those months go too (one row per record: minutes for a big month),
        // also before the lock: appends only add rows after the head.
        await client.query(`SET LOCAL provisio.audit_retention = 'on'`);
        await client.query(`DELETE FROM ${s}.record_positions WHERE seq <= $1`, [cut]);
        verified = { chainId, head: verifier.head.hash, recordedAt: lastRow.rows[0]!.recorded_at.getTime(), baseline };
      }
      // The cut itself: appends and checkpoints wait only for these few statements. Waiting
      // longer than this for the append lock or for readers of the table to finish (DROP needs
      // the table alone) gives up, and the next run tries again, rather than stall ingest.
      await client.query(`SET LOCAL lock_timeout = '${RETENTION_LOCK_TIMEOUT_MS}ms'`);
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.repo.lockKey]);
      // An append that began just before a month ended may have landed in it since.
      if ((await lastOfVictims()) !== cut) throw new RetentionError('not dropping partitions now: records were appended to an old month meanwhile; the next run tries again');
      let anchor: RetentionOutcome['anchor'] = null;
      if (cut !== null && verified) {
        // What remains must link to the anchor, or the cut would hide a break.
        const next = await client.query<{ prev_hash: Buffer }>(`SELECT prev_hash FROM ${this.repo.records} WHERE seq = $1`, [cut + 1]);
        if (next.rows[0] && !next.rows[0].prev_hash.equals(verified.head)) throw new RetentionError(`not dropping partitions: record ${cut + 1} does not link to ${cut}`);
        const previous = await this.chain.latestTrusted(client);
        const signed = this.signer.sign({
          chainId: verified.chainId,
          kind: 'anchor',
          seq: cut,
          hash: verified.head.toString('hex'),
          recordedAt: verified.recordedAt,
          issuedAt: now.getTime(),
          previous: previous ? { seq: previous.statement.seq, hash: previous.statement.hash } : null,
          baseline: verified.baseline,
        });
        await this.chain.insert(client, signed);
        anchor = { seq: cut, hash: signed.statement.hash };
      }
      for (const v of victims) await client.query(`DROP TABLE ${s}.${quoteIdent(v)}`);
      await client.query('COMMIT');
      this.logger.info({ dropped: victims, anchor, cutoff: cutoff.toISOString() }, 'audit retention dropped old partitions');
      return { dropped: victims, anchor };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      if ((e as { code?: string }).code === '55P03') {
        throw new RetentionError(`not dropping partitions now: the audit store stayed busy for ${RETENTION_LOCK_TIMEOUT_MS / 1000} s (appends or long reads); the next run tries again`);
      }
      throw e;
    } finally {
      await client.end();
    }
  }
}
