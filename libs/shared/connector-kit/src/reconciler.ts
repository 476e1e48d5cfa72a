import { createHash } from 'node:crypto';
import { DRIFT_KINDS, DriftDetector, personalValues, retryDelay, scrubTargetText, toConnectorError, withoutValues, type DriftFinding, type DriftKind, type TargetAccount } from '@provisio/connector-domain';
import { EventTypes, Topics, type DriftEvent, type ReconciliationRun } from '@provisio/contracts';
import { OutboxWriter, uuidv7, type OutboxMessage } from '@provisio/messaging';
import type { Logger } from '@provisio/observability';
import { Database, quoteIdent } from '@provisio/persistence';
import { AppliedStateRepository } from './applied-state.repository.js';
import { forEachLimit, sleep, type KeyedMutex } from './concurrency.js';
import { ConnectorMetrics } from './connector-metrics.js';
import { converge } from './converger.js';
import type { TargetRegistry } from './target-registry.js';
import type { TargetRuntime } from './target-runtime.js';

export type ReconcileMode = 'report' | 'correct';
export type ReconcileTrigger = 'SCHEDULE' | 'API';

export interface RunSummary {
  runId: string;
  target: string;
  mode: ReconcileMode;
  trigger: ReconcileTrigger;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  accountsScanned: number;
  desiredAccounts: number;
  drift: Partial<Record<DriftKind, number>>;
  corrected: number;
  correctionFailures: number;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export class ReconcileConflict extends Error {
  constructor(target: string) {
    super(`a reconciliation of target ${target} is already running`);
    this.name = 'ReconcileConflict';
  }
}

type Action = DriftEvent['action'];
interface Settled {
  finding: DriftFinding;
  action: Action;
  error: string | null;
}

const CORRECTABLE = new Set<DriftKind>(['MISSING', 'UNEXPECTED', 'WRONG_ATTRIBUTES', 'WRONG_STATE', 'WRONG_MEMBERSHIPS']);

/**
 * The Kafka key of a finding without a person: the target-native ref (opaque: entryUUID, oid,
 * SCIM id), or a digest of the account name when there is none. Keys are stored and hashed in
 * clear by consumers (audit cannot shred them), so a name — personal data — never goes there.
 */
export function accountKey(target: string, ref: string | null, name: string | null): string {
  if (ref) return `account:${target}:${ref}`;
  if (name) return `account:${target}:name-sha256:${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
  return `account:${target}:unknown`;
}

/**
 * Reconciliation of one target: page through its accounts, compare them with the desired state
 * the connector holds for every person, report each difference as a DriftEvent (connector.drift)
 * and, in correct mode, converge it. One run per target at a time across all replicas (advisory
 * lock). Corrections take the same per-person lock as commands and re-check that the desired
 * state did not change meanwhile, so a run never undoes a newer command.
 */
export class Reconciler {
  private readonly runs: string;
  private readonly running = new Map<string, Promise<RunSummary>>();

  constructor(
    private readonly db: Database,
    private readonly outbox: OutboxWriter,
    private readonly applied: AppliedStateRepository,
    private readonly targets: TargetRegistry,
    private readonly locks: KeyedMutex,
    private readonly logger: Logger,
    private readonly schema: string,
  ) {
    this.runs = `${quoteIdent(schema)}.reconciliation_runs`;
  }

  /** Starts a run in the background and returns it as RUNNING; rejects when one is already running. */
  async start(target: string, mode: ReconcileMode, trigger: ReconcileTrigger, requestedBy: string | null): Promise<RunSummary> {
    const runtime = this.requireTarget(target);
    const client = await this.db.pool.connect();
    let locked = false;
    try {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [`provisio-reconcile:${this.schema}:${target}`]);
      locked = r.rows[0]?.ok === true;
      if (!locked) throw new ReconcileConflict(target);
      const summary: RunSummary = {
        runId: uuidv7(),
        target,
        mode,
        trigger,
        status: 'RUNNING',
        accountsScanned: 0,
        desiredAccounts: 0,
        drift: {},
        corrected: 0,
        correctionFailures: 0,
        error: null,
        startedAt: new Date().toISOString(),
        finishedAt: null,
      };
      // We hold the target's lock: a run still marked RUNNING was cut off by a crash or restart.
      await this.db.sql.query(`UPDATE ${this.runs} SET status = 'FAILED', error = 'interrupted (process stopped during the run)', finished_at = now() WHERE target = $1 AND status = 'RUNNING'`, [target]);
      await this.db.sql.query(`INSERT INTO ${this.runs} (run_id, target, mode, trigger, status, requested_by, started_at) VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6)`, [
        summary.runId,
        target,
        mode,
        trigger,
        requestedBy,
        summary.startedAt,
      ]);
      const done = this.execute(runtime, summary).finally(() => {
        this.running.delete(summary.runId);
        void client
          .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`provisio-reconcile:${this.schema}:${target}`])
          .catch(() => undefined)
          .finally(() => client.release());
      });
      this.running.set(summary.runId, done);
      return { ...summary };
    } catch (e) {
      if (locked) await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`provisio-reconcile:${this.schema}:${target}`]).catch(() => undefined);
      client.release();
      throw e;
    }
  }

  /** Runs to the end (CLI and scheduler). */
  async run(target: string, mode: ReconcileMode, trigger: ReconcileTrigger, requestedBy: string | null = null): Promise<RunSummary> {
    const started = await this.start(target, mode, trigger, requestedBy);
    return (await this.running.get(started.runId)) ?? (await this.get(target, started.runId))!;
  }

  async get(target: string, runId: string): Promise<RunSummary | undefined> {
    const r = await this.db.sql.query<RunRow>(`SELECT * FROM ${this.runs} WHERE target = $1 AND run_id::text = $2`, [target, runId]);
    return r.rows[0] ? fromRow(r.rows[0]) : undefined;
  }

  async list(target: string, limit: number): Promise<RunSummary[]> {
    const r = await this.db.sql.query<RunRow>(`SELECT * FROM ${this.runs} WHERE target = $1 ORDER BY started_at DESC LIMIT $2`, [target, limit]);
    return r.rows.map(fromRow);
  }

  async lastFinishedAt(target: string): Promise<number | null> {
    const r = await this.db.sql.query<{ at: Date | null }>(`SELECT max(coalesce(finished_at, started_at)) AS at FROM ${this.runs} WHERE target = $1`, [target]);
    return r.rows[0]?.at ? r.rows[0].at.getTime() : null;
  }

  /** Waits for runs of this process (shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  private requireTarget(target: string): TargetRuntime {
    const runtime = this.targets.get(target);
    if (!runtime) throw new Error(`target "${target}" is not configured in this connector`);
    return runtime;
  }

  private async execute(runtime: TargetRuntime, summary: RunSummary): Promise<RunSummary> {
    const labels = { target: runtime.id, kind: runtime.kind };
    const started = Date.now();
    const settled: Settled[] = [];
    try {
      const stored = await this.applied.desiredForTarget(this.db.sql, runtime.id);
      const versions = new Map(stored.map((s) => [s.desired.personId, s]));
      const detector = new DriftDetector(
        stored.map((s) => s.desired),
        runtime.planOptions,
        runtime.namesCaseInsensitive ? (n) => n.toLowerCase() : undefined,
      );
      summary.desiredAccounts = detector.desiredCount;
      const findings: DriftFinding[] = [];
      const orphans = new Map<string, TargetAccount>();
      let managed = 0;
      let cursor: string | null = null;
      do {
        const page = await this.withRetries(runtime, () => runtime.connector.listAccounts(cursor, runtime.config.reconcile.pageSize));
        for (const account of page.items) {
          if (account.owner !== null) managed++;
          for (const f of detector.observe(account)) {
            findings.push(f);
            if (f.kind === 'ORPHAN' && f.accountRef) orphans.set(f.accountRef, account);
          }
        }
        cursor = page.next;
      } while (cursor !== null);
      findings.push(...detector.finish());
      summary.accountsScanned = detector.accountsSeen;

      if (summary.mode === 'correct') {
        const held = this.orphanLimit(runtime, orphans.size, managed);
        if (held) {
          summary.error = held;
          ConnectorMetrics.orphansHeld.inc(labels);
          this.logger.warn({ target: runtime.id, runId: summary.runId, orphans: orphans.size, managed }, held);
        }
        await this.correct(runtime, findings, versions, held ? new Map() : orphans, settled, held);
      } else {
        for (const finding of findings) settled.push({ finding, action: 'REPORTED', error: null });
      }
      summary.status = 'SUCCEEDED';
    } catch (e) {
      summary.status = 'FAILED';
      // A listing failure names no account the run could redact: the target's text is scrubbed of DN values and emails.
      summary.error = scrubTargetText((e as Error).message).slice(0, 1000);
      this.logger.error({ target: runtime.id, runId: summary.runId, code: (e as { code?: unknown }).code, err: summary.error }, 'reconciliation failed');
    }
    summary.drift = {};
    for (const s of settled) summary.drift[s.finding.kind] = (summary.drift[s.finding.kind] ?? 0) + 1;
    summary.corrected = settled.filter((s) => s.action === 'CORRECTED').length;
    summary.correctionFailures = settled.filter((s) => s.action === 'CORRECTION_FAILED').length;
    summary.finishedAt = new Date().toISOString();
    await this.publish(runtime, summary, settled);
    ConnectorMetrics.reconciliations.inc({ ...labels, status: summary.status });
    ConnectorMetrics.reconciliationDuration.observe(labels, (Date.now() - started) / 1000);
    if (summary.status === 'SUCCEEDED') {
      ConnectorMetrics.accountsScanned.set(labels, summary.accountsScanned);
      for (const kind of DRIFT_KINDS) ConnectorMetrics.driftAccounts.set({ ...labels, drift: kind }, summary.drift[kind] ?? 0);
    }
    this.logger.info({ target: runtime.id, runId: summary.runId, status: summary.status, scanned: summary.accountsScanned, drift: summary.drift, corrected: summary.corrected, ms: Date.now() - started }, 'reconciliation finished');
    return summary;
  }

  private async correct(
    runtime: TargetRuntime,
    findings: DriftFinding[],
    versions: Map<string, { desiredVersion: number; accountRef: string | null }>,
    orphans: Map<string, TargetAccount>,
    settled: Settled[],
    orphansHeld: string | null,
  ): Promise<void> {
    const byPerson = new Map<string, DriftFinding[]>();
    const orphanFindings: DriftFinding[] = [];
    for (const f of findings) {
      if (f.personId !== null && CORRECTABLE.has(f.kind)) byPerson.set(f.personId, [...(byPerson.get(f.personId) ?? []), f]);
      else if (f.kind === 'ORPHAN' && runtime.config.reconcile.orphans !== 'report' && f.accountRef && orphans.has(f.accountRef)) orphanFindings.push(f);
      else settled.push({ finding: f, action: 'REPORTED', error: f.kind === 'ORPHAN' ? orphansHeld : null });
    }
    for (const f of orphanFindings) {
      const account = orphans.get(f.accountRef!)!;
      // "No desired state" was true when the run started; a joiner's command may have created the account since. Re-check under its lock.
      await this.locks.run(AppliedStateRepository.key(account.owner ?? '', runtime.id), async () => {
        if (account.owner !== null && (await this.applied.desiredOf(this.db.sql, account.owner, runtime.id))) {
          settled.push({ finding: f, action: 'REPORTED', error: 'not corrected: a command for this person arrived during the run' });
          return;
        }
        try {
          if (runtime.config.reconcile.orphans === 'delete') await this.withRetries(runtime, () => runtime.connector.deleteAccount(account), 'delete');
          else if (account.enabled || account.openSessions === true) await this.withRetries(runtime, () => runtime.connector.disableAccount(account, { personId: account.owner ?? '', target: runtime.id, version: 0, state: 'DISABLED', accountName: account.name, attributes: {}, groups: [] }), 'disable');
          settled.push({ finding: f, action: 'CORRECTED', error: null });
        } catch (e) {
          settled.push({ finding: f, action: 'CORRECTION_FAILED', error: withoutValues(e, personalValues(null, account)).message.slice(0, 500) });
        }
      });
    }
    await forEachLimit([...byPerson], runtime.config.concurrency, async ([personId, list]) => {
      const key = AppliedStateRepository.key(personId, runtime.id);
      await this.locks.run(key, async () => {
        const snapshot = versions.get(personId);
        const now = await this.applied.desiredOf(this.db.sql, personId, runtime.id);
        if (!now || !snapshot || now.desiredVersion !== snapshot.desiredVersion) {
          // A newer command arrived during the run; it converges the account itself.
          for (const finding of list) settled.push({ finding, action: 'REPORTED', error: 'superseded by a newer command' });
          return;
        }
        try {
          await this.withRetries(runtime, () => converge(runtime, now.desired, now.accountRef), null);
          for (const finding of list) settled.push({ finding, action: 'CORRECTED', error: null });
        } catch (e) {
          const message = toConnectorError(e).message.slice(0, 500);
          for (const finding of list) settled.push({ finding, action: 'CORRECTION_FAILED', error: message });
        }
      });
    });
  }

  /** Why this run must not correct its orphans (the safety limit), or null. */
  private orphanLimit(runtime: TargetRuntime, orphans: number, managed: number): string | null {
    const r = runtime.config.reconcile;
    if (r.orphans === 'report' || orphans === 0) return null;
    const share = managed > 0 ? orphans / managed : 1;
    if (orphans <= r.maxOrphanCorrections && share <= r.maxOrphanShare) return null;
    return `orphan safety limit: ${orphans} of ${managed} managed accounts are orphans (limit ${r.maxOrphanCorrections} and ${Math.round(r.maxOrphanShare * 100)}%); reported, none ${r.orphans === 'delete' ? 'deleted' : 'disabled'} — check the applied state, then raise reconcile.maxOrphanCorrections / maxOrphanShare to correct them`;
  }

  /** A few attempts for transient trouble; a run is not a place to wait out a long outage. */
  private async withRetries<T>(runtime: TargetRuntime, fn: () => Promise<T>, operation: string | null = 'list'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return operation === null ? await fn() : await runtime.call(operation, fn);
      } catch (e) {
        const err = toConnectorError(e);
        if (!err.retriable || attempt >= 6) throw err;
        await sleep(retryDelay(attempt, err.retryAfterMs, runtime.backoff));
      }
    }
  }

  private async publish(runtime: TargetRuntime, summary: RunSummary, settled: Settled[]): Promise<void> {
    const detectedAt = Date.now();
    const events: OutboxMessage[] = settled.map(({ finding: f, action, error }) => {
      const value: DriftEvent = {
        driftId: uuidv7(detectedAt),
        runId: summary.runId,
        target: runtime.id,
        targetKind: runtime.kind,
        kind: f.kind,
        personId: f.personId,
        accountName: f.accountName,
        accountRef: f.accountRef,
        details: f.details.slice(0, 100),
        action,
        error,
        detectedAt,
      };
      return { id: value.driftId, topic: Topics.drift, key: f.personId ?? accountKey(runtime.id, f.accountRef, f.accountName), aggregateType: 'person-target', type: EventTypes.drift, schema: 'DriftEvent', value };
    });
    const run: ReconciliationRun = {
      runId: summary.runId,
      target: runtime.id,
      targetKind: runtime.kind,
      mode: summary.mode === 'correct' ? 'CORRECT' : 'REPORT',
      trigger: summary.trigger,
      status: summary.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
      accountsScanned: summary.accountsScanned,
      desiredAccounts: summary.desiredAccounts,
      drift: summary.drift as Record<string, number>,
      corrected: summary.corrected,
      correctionFailures: summary.correctionFailures,
      error: summary.error,
      startedAt: Date.parse(summary.startedAt),
      finishedAt: Date.parse(summary.finishedAt ?? new Date().toISOString()),
    };
    for (let i = 0; i < events.length; i += 2000) {
      const chunk = events.slice(i, i + 2000);
      await this.db.transaction(async (tx) => void (await this.outbox.enqueue(tx.sql, chunk)));
    }
    await this.db.transaction(async (tx) => {
      await this.outbox.enqueue(tx.sql, [{ id: uuidv7(), topic: Topics.drift, key: `target:${runtime.id}`, aggregateType: 'target', type: EventTypes.reconciliationRun, schema: 'ReconciliationRun', value: run }]);
      await tx.sql.query(`UPDATE ${this.runs} SET status = $2, summary = $3, error = $4, finished_at = $5 WHERE run_id = $1`, [
        summary.runId,
        summary.status,
        JSON.stringify({ accountsScanned: summary.accountsScanned, desiredAccounts: summary.desiredAccounts, drift: summary.drift, corrected: summary.corrected, correctionFailures: summary.correctionFailures }),
        summary.error,
        summary.finishedAt,
      ]);
    });
  }
}

interface RunRow {
  run_id: string;
  target: string;
  mode: ReconcileMode;
  trigger: ReconcileTrigger;
  status: RunSummary['status'];
  summary: { accountsScanned: number; desiredAccounts: number; drift: RunSummary['drift']; corrected: number; correctionFailures: number } | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

function fromRow(r: RunRow): RunSummary {
  return {
    runId: r.run_id,
    target: r.target,
    mode: r.mode,
    trigger: r.trigger,
    status: r.status,
    accountsScanned: r.summary?.accountsScanned ?? 0,
    desiredAccounts: r.summary?.desiredAccounts ?? 0,
    drift: r.summary?.drift ?? {},
    corrected: r.summary?.corrected ?? 0,
    correctionFailures: r.summary?.correctionFailures ?? 0,
    error: r.error,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
  };
}
