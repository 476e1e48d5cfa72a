import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { decideBatch, evaluateBrake, type FieldError, type WorkerRecord } from '@provisio/hr-ingest-domain';
import { counter } from '@provisio/observability';
import { LOGGER, type Logger } from '@provisio/observability';
import { Database, type SqlClient } from '@provisio/persistence';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { HrIngestSettings } from '../config.js';
import type { LifecycleWriter } from '../persons/lifecycle-writer.js';
import type { PersonRepository, StoredPerson } from '../persons/person.repository.js';
import { PERSONS, SETTINGS, SNAPSHOTS, WRITER } from '../tokens.js';
import { SnapshotRepository, type Snapshot } from './snapshot.repository.js';


const LEASE_SEC = 120;

class ShutdownInterrupt extends Error {
  constructor() {
    super('shutting down');
  }
}
const MAX_ATTEMPTS = 5;

const rowsProcessed = counter('provisio_hr_snapshot_rows_total', 'Snapshot rows planned and applied', ['phase']);
const holds = counter('provisio_hr_snapshot_holds_total', 'Snapshots held by the mass-change brake', ['source']);

/**
 * Works through staged snapshots, oldest first and one per source at a time, on whichever
 * replica holds the lease (a dead replica's lease expires and another resumes):
 *
 * 1. plan — decides every row against the stored persons without writing them, assigns
 *    personIds to new workers (so reports resolve managers within the file), lists the leavers
 *    (terminated in the file, or absent from a full snapshot) and applies the mass-change brake:
 *    too many leavers → `held` until confirmed or discarded.
 * 2. apply — re-decides the rows that change something, SNAPSHOT_BATCH_SIZE (2000) per transaction (persons, outbox
 *    and the progress cursor commit together, so a crash resumes where it stopped), then the
 *    absent workers.
 */
@Injectable()
export class SnapshotProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly db: Database,
    @Inject(SNAPSHOTS) private readonly repo: SnapshotRepository,
    @Inject(PERSONS) private readonly persons: PersonRepository,
    @Inject(WRITER) private readonly writer: LifecycleWriter,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.settings.SNAPSHOT_PROCESSOR) return;
    this.running = true;
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
  }

  wake(): void {
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    let lastPrune = 0;
    while (this.running) {
      let worked = false;
      try {
        const s = await this.repo.claim(this.db.sql, this.owner, LEASE_SEC);
        if (s) {
          worked = true;
          await this.process(s);
        }
        if (Date.now() - lastPrune > 3_600_000) {
          lastPrune = Date.now();
          await this.repo.prune(this.db.sql, this.settings.SNAPSHOT_RETENTION_DAYS);
        }
      } catch (e) {
        this.logger.warn({ err: e }, 'snapshot processing pass failed; will retry');
      }
      if (!worked) await this.idle(1000);
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** Plans, holds or applies one snapshot; failures retry a few times, then mark it failed. */
  async process(s: Snapshot): Promise<void> {
    try {
      if (s.status === 'staged') {
        const held = await this.plan(s);
        if (held) return;
        s = (await this.repo.get(this.db.sql, s.id))!;
      }
      if (s.status === 'applying') await this.apply(s);
    } catch (e) {
      if (e instanceof ShutdownInterrupt) {
        this.logger.info({ snapshotId: s.id }, 'snapshot paused for shutdown; it resumes where it stopped');
        return;
      }
      const attempts = s.attempts + 1;
      this.logger.warn({ err: e, snapshotId: s.id, attempts }, attempts >= MAX_ATTEMPTS ? 'snapshot failed for good' : 'snapshot processing failed; will retry');
      if (attempts >= MAX_ATTEMPTS) await this.repo.update(this.db.sql, s.id, { status: 'failed', attempts, error: String((e as Error).message).slice(0, 2000), finished_at: new Date(), lease_owner: null, lease_until: null });
      else await this.repo.update(this.db.sql, s.id, { attempts, error: String((e as Error).message).slice(0, 2000), lease_until: new Date(Date.now() + 2 ** attempts * 1000) });
      return;
    } finally {
      await this.repo.release(this.db.sql, s.id, this.owner).catch(() => undefined);
    }
  }

  private async keepLease(s: Snapshot): Promise<void> {
    if (!(await this.repo.renew(this.db.sql, s.id, this.owner, LEASE_SEC))) throw new Error('lost the snapshot lease to another replica');
  }

  /** Returns true when the brake held the snapshot. */
  private async plan(s: Snapshot): Promise<boolean> {
    const sql = this.db.sql;
    await this.repo.clearPlan(sql, s.id);
    const population = await this.persons.countPopulation(sql, s.source);
    const absentLeave = s.mode === 'full' && s.absentWorkers === 'leaver';
    // Rows whose worker id cannot be read may belong to anyone absent: then the precise plan
    // decides whether the snapshot has absentees to hold.
    const unidentified = absentLeave ? await this.repo.countUnidentified(sql, s.id) : 0;
    const bound = await this.repo.leaverBound(sql, s.id, s.source, absentLeave, s.asOf);
    if (unidentified === 0 && !evaluateBrake(population, bound, this.settings.brake).hold) {
      // Even the most leavers this file could make stay under the brake: no precise plan is
      // needed; the apply pass decides every row.
      if (absentLeave) await this.repo.addAbsentees(sql, s.id, s.source, s.asOf);
      await this.repo.update(sql, s.id, {
        status: 'applying',
        population,
        leavers_planned: await this.repo.countLeavers(sql, s.id),
        brake: JSON.stringify({ ...evaluateBrake(population, bound, this.settings.brake), leaverBound: bound }),
        planned_at: new Date(),
      });
      return false;
    }
    const planned: Record<string, number> = {};
    let after = 0;
    for (;;) {
      const rows = await this.repo.validRows(sql, s.id, after, this.settings.SNAPSHOT_BATCH_SIZE);
      if (rows.length === 0) break;
      after = rows.at(-1)!.rowNo;
      const { outcomes } = await this.decide(sql, s, rows, false);
      const marks: { rowNo: number; kind: string }[] = [];
      const leavers: { personId: string; workerId: string; reason: string }[] = [];
      const warnings: { rowNo: number; errors: FieldError[] }[] = [];
      for (const [i, o] of outcomes.entries()) {
        const row = rows[i]!;
        if ('rejected' in o) continue;
        const d = o.decision;
        const kind = d.outcome === 'stale' ? 'STALE' : (d.event?.kind ?? (d.write !== 'none' ? 'STORE' : undefined));
        if (kind) {
          marks.push({ rowNo: row.rowNo, kind });
          planned[kind] = (planned[kind] ?? 0) + 1;
        }
        // Leavers now and terminations newly scheduled count alike: a hold stops both.
        if (d.leaving) leavers.push({ personId: d.state!.personId, workerId: row.record.workerId, reason: d.leaving.reason });
        if (d.warnings.length > 0) warnings.push({ rowNo: row.rowNo, errors: d.warnings });
      }
      await this.repo.setPlanned(sql, s.id, marks);
      await this.repo.addLeavers(sql, s.id, leavers);
      await this.repo.setIssues(sql, s.id, 'warning', warnings);
      rowsProcessed.inc({ phase: 'plan' }, rows.length);
      await this.keepLease(s);
    }
    let absent = 0;
    if (absentLeave) {
      absent = await this.repo.addAbsentees(sql, s.id, s.source, s.asOf);
      if (absent > 0) planned['LEAVER'] = (planned['LEAVER'] ?? 0) + absent;
    }
    const leavers = await this.repo.countLeavers(sql, s.id);
    let verdict = evaluateBrake(population, leavers, this.settings.brake);
    if (!verdict.hold && unidentified > 0 && absent > 0) {
      // Never a leaver by absence on a guess: an unreadable row may be any of the absent people.
      verdict = {
        hold: true,
        leavers,
        population,
        rule: 'readable-worker-ids',
        reason: `${unidentified} rejected row(s) have no readable worker id, so the ${absent} people absent from the file may be among them; nobody becomes a leaver by absence until someone confirms (or discard, fix the file and upload it again)`,
      };
    }
    const update = { population, leavers_planned: leavers, planned: JSON.stringify(planned), brake: JSON.stringify(verdict), planned_at: new Date() };
    if (verdict.hold) {
      holds.inc({ source: s.source });
      this.logger.warn({ snapshotId: s.id, source: s.source, leavers, population, rule: verdict.rule }, 'snapshot held for confirmation');
      await this.repo.update(sql, s.id, { ...update, status: 'held' });
      return true;
    }
    await this.repo.update(sql, s.id, { ...update, status: 'applying' });
    return false;
  }

  private async applyBatch(s: Snapshot, rows: { rowNo: number; record: WorkerRecord; personId: string }[], plannedOnly: boolean, emptySource: boolean): Promise<void> {
    let candidates = rows;
    let knownNew: Set<string> | undefined;
    if (!plannedOnly && emptySource) knownNew = new Set(rows.map((r) => r.record.workerId));
    else if (!plannedOnly) {
      // New workers change something by definition; rows of stored persons are decided first,
      // without locks, and only those that change go on.
      const existing = await this.persons.lockByWorkerIds(this.db.sql, s.source, rows.map((r) => r.record.workerId), false);
      const known = rows.filter((r) => existing.has(r.record.workerId));
      candidates = rows.filter((r) => !existing.has(r.record.workerId));
      knownNew = new Set(candidates.map((r) => r.record.workerId));
      const { outcomes } = known.length > 0 ? await this.decide(this.db.sql, s, known, false, existing) : { outcomes: [] };
      const stale: { rowNo: number; errors: FieldError[] }[] = [];
      const warnings: { rowNo: number; errors: FieldError[] }[] = [];
      for (const [i, o] of outcomes.entries()) {
        const row = known[i]!;
        if ('rejected' in o) continue;
        const d = o.decision;
        if (d.outcome === 'stale') stale.push({ rowNo: row.rowNo, errors: d.errors });
        else if (d.write !== 'none') candidates.push(row);
        else if (d.warnings.length > 0) warnings.push({ rowNo: row.rowNo, errors: d.warnings });
      }
      await this.repo.setIssues(this.db.sql, s.id, 'rejection', stale);
      await this.repo.setIssues(this.db.sql, s.id, 'warning', warnings);
    }
    rowsProcessed.inc({ phase: 'apply' }, rows.length);
    if (candidates.length === 0) return;
    let attempt = 0;
    await this.db.transaction(async (tx) => {
      // A retry after a conflicting insert looks every worker up.
      if (++attempt > 1) knownNew = undefined;
      // Ids of the file's new workers: batch rows, and managers elsewhere in the file (the writer
      // prefers stored persons, so only new ones take these).
      const assigned = new Map(candidates.map((r) => [r.record.workerId, r.personId]));
      const refs = candidates.map((r) => r.record.managerWorkerId).filter((m): m is string => typeof m === 'string' && !assigned.has(m));
      for (const [w, p] of await this.repo.stagedPersonIds(tx.sql, s.id, refs)) assigned.set(w, p);
      const outcomes = await this.writer.applyRecords(
        tx.sql,
        s.source,
        candidates.map((r) => r.record),
        { channel: 'CSV', batchId: s.id, assigned, where: 'file', ...(knownNew ? { knownNew } : {}) },
      );
      const counts: Record<string, number> = {};
      const rejected: { rowNo: number; errors: FieldError[] }[] = [];
      const warnings: { rowNo: number; errors: FieldError[] }[] = [];
      for (const o of outcomes) {
        for (const e of o.events) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
        if (o.status === 'stale' || o.status === 'rejected') rejected.push({ rowNo: candidates[o.index]!.rowNo, errors: o.errors });
        if (!plannedOnly && o.warnings.length > 0) warnings.push({ rowNo: candidates[o.index]!.rowNo, errors: o.warnings });
      }
      await this.repo.setIssues(tx.sql, s.id, 'rejection', rejected);
      await this.repo.setIssues(tx.sql, s.id, 'warning', warnings);
      await this.repo.addEvents(tx.sql, s.id, counts);
    });
  }

  private async decide(sql: SqlClient, s: Snapshot, rows: { record: WorkerRecord; personId: string }[], lock: boolean, stored?: Map<string, StoredPerson>) {
    const records = rows.map((r) => r.record);
    const existing = stored ?? (await this.persons.lockByWorkerIds(sql, s.source, records.map((r) => r.workerId), lock));
    const assigned = new Map(rows.map((r) => [r.record.workerId, r.personId]));
    const refs = [...new Set(records.map((r) => r.managerWorkerId).filter((m): m is string => typeof m === 'string' && !assigned.has(m)))];
    const known = await this.persons.personIdsOf(sql, s.source, refs);
    for (const [w, p] of await this.repo.stagedPersonIds(sql, s.id, refs.filter((m) => !known.has(m)))) assigned.set(w, p);
    const outcomes = decideBatch(records, existing, {
      now: Date.now(),
      policy: this.settings.policy,
      resolveManager: (w) => known.get(w),
      newPersonId: randomUUID,
      assigned,
    });
    return { outcomes, assigned, records, existing };
  }

  private async apply(s: Snapshot): Promise<void> {
    // After a precise plan only the rows it marked change anything; otherwise every row is
    // decided first without locks, and only rows that change are locked and written.
    const plannedOnly = s.planned !== null;
    // A first import into an empty source: every row is a new worker, no need to look each up.
    // (Should another input create one of them meanwhile, the insert conflicts and the batch
    // runs again with the lookup.)
    const emptySource = (await this.persons.countAll(this.db.sql, s.source)) === 0;
    let fetched = s.appliedThrough;
    const inFlight = new Map<number, number>();
    let lastSaved = Date.now();
    let fetching: Promise<unknown> = Promise.resolve();
    const next = () => {
      const p = fetching.then(async () => {
        const rows = await this.repo.validRows(this.db.sql, s.id, fetched, this.settings.SNAPSHOT_BATCH_SIZE, plannedOnly);
        if (rows.length > 0) {
          inFlight.set(rows[0]!.rowNo, rows.at(-1)!.rowNo);
          fetched = rows.at(-1)!.rowNo;
        }
        return rows;
      });
      fetching = p.catch(() => undefined);
      return p;
    };
    const worker = async () => {
      for (;;) {
        // Shutting down: stop between batches; the lease is released and a replica (or this
        // service after its restart) resumes after the last batch that committed.
        if (!this.running) throw new ShutdownInterrupt();
        if (failed) return;
        const rows = await next();
        if (rows.length === 0) return;
        await this.applyBatch(s, rows, plannedOnly, emptySource);
        inFlight.delete(rows[0]!.rowNo);
        // Everything before the oldest batch still in flight is done: a crash resumes there
        // (re-deciding a row that was applied already changes nothing).
        const cursor = inFlight.size > 0 ? Math.min(...inFlight.keys()) - 1 : fetched;
        if (Date.now() - lastSaved > 5000) {
          lastSaved = Date.now();
          await this.repo.update(this.db.sql, s.id, { applied_through: cursor });
          await this.keepLease(s);
        }
      }
    };
    let failed = false;
    const results = await Promise.allSettled(
      Array.from({ length: this.settings.SNAPSHOT_APPLY_CONCURRENCY }, () =>
        worker().catch((e: unknown) => {
          failed = true;
          throw e;
        }),
      ),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await this.repo.update(this.db.sql, s.id, { applied_through: inFlight.size > 0 ? Math.min(...inFlight.keys()) - 1 : fetched });
      throw failure.reason;
    }
    if (!s.absenteesDone) {
      let last = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        if (!this.running) throw new ShutdownInterrupt();
        const ids = await this.repo.absentees(this.db.sql, s.id, last, this.settings.SNAPSHOT_BATCH_SIZE);
        if (ids.length === 0) break;
        last = ids.at(-1)!;
        await this.db.transaction(async (tx) => {
          const people = await this.persons.lockByIds(tx.sql, ids);
          const emitted = await this.writer.applyChange(tx.sql, people, { type: 'absent', asOf: s.asOf ?? undefined }, { channel: 'CSV', batchId: s.id });
          const counts: Record<string, number> = {};
          for (const list of emitted.values()) for (const e of list) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
          await this.repo.addEvents(tx.sql, s.id, counts);
        });
        await this.keepLease(s);
      }
    }
    const issues = await this.repo.countIssues(this.db.sql, s.id);
    await this.db.transaction(async (tx) => {
      await this.repo.update(tx.sql, s.id, {
        status: 'applied',
        applied_through: fetched,
        absentees_done: true,
        events: JSON.stringify(await this.repo.eventCounts(tx.sql, s.id)),
        rows_rejected: issues.rejected,
        rows_warned: issues.warnings,
        finished_at: new Date(),
        error: null,
      });
      await this.repo.supersedeOlderHolds(tx.sql, s);
    });
    this.logger.info({ snapshotId: s.id, source: s.source, rows: s.rowsTotal, events: (await this.repo.get(this.db.sql, s.id))?.events }, 'snapshot applied');
  }
}
