import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { decideBatch, evaluateBrake, type FieldError } from '@provisio/hr-ingest-domain';
import { counter } from '@provisio/observability';
import { LOGGER, type Logger } from '@provisio/observability';
import { Database, type SqlClient } from '@provisio/persistence';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { HrIngestSettings } from '../config.js';
import type { LifecycleWriter } from '../persons/lifecycle-writer.js';
import type { PersonRepository } from '../persons/person.repository.js';
import { PERSONS, SETTINGS, SNAPSHOTS, WRITER } from '../tokens.js';
import { SnapshotRepository, type Snapshot } from './snapshot.repository.js';


const LEASE_SEC = 120;
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
 * 2. apply — re-decides the rows that change something, 1000 per transaction (persons, outbox
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
    await this.repo.assignPersonIds(sql, s.id, s.source);
    const population = await this.persons.countPopulation(sql, s.source);
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
        if (d.event?.kind === 'LEAVER') leavers.push({ personId: d.state!.personId, workerId: row.record.workerId, reason: d.event.reason });
        if (d.warnings.length > 0) warnings.push({ rowNo: row.rowNo, errors: d.warnings });
      }
      await this.repo.setPlanned(sql, s.id, marks);
      await this.repo.addLeavers(sql, s.id, leavers);
      await this.repo.setIssues(sql, s.id, 'warning', warnings);
      rowsProcessed.inc({ phase: 'plan' }, rows.length);
      await this.keepLease(s);
    }
    if (s.mode === 'full' && s.absentWorkers === 'leaver') {
      const absent = await this.repo.addAbsentees(sql, s.id, s.source);
      if (absent > 0) planned['LEAVER'] = (planned['LEAVER'] ?? 0) + absent;
    }
    const leavers = await this.repo.countLeavers(sql, s.id);
    const verdict = evaluateBrake(population, leavers, this.settings.brake);
    const update = { population, leavers_planned: leavers, planned: JSON.stringify(planned), brake: JSON.stringify(verdict), planned_at: new Date() };
    if (verdict.hold) {
      holds.inc({ source: s.source });
      this.logger.warn({ snapshotId: s.id, source: s.source, leavers, population }, 'mass-change brake: snapshot held for confirmation');
      await this.repo.update(sql, s.id, { ...update, status: 'held' });
      return true;
    }
    await this.repo.update(sql, s.id, { ...update, status: 'applying' });
    return false;
  }

  private async decide(sql: SqlClient, s: Snapshot, rows: { record: { workerId: string; managerWorkerId?: string | null | undefined }; personId: string }[], lock: boolean) {
    const records = rows.map((r) => r.record as Parameters<typeof decideBatch>[0][number]);
    const existing = await this.persons.lockByWorkerIds(sql, s.source, records.map((r) => r.workerId), lock);
    const assigned = new Map(rows.map((r) => [r.record.workerId, r.personId]));
    const refs = [...new Set(records.map((r) => r.managerWorkerId).filter((m): m is string => typeof m === 'string' && !assigned.has(m)))];
    for (const [w, p] of await this.repo.stagedPersonIds(sql, s.id, refs)) assigned.set(w, p);
    const known = await this.persons.personIdsOf(sql, s.source, refs.filter((m) => !assigned.has(m)));
    const outcomes = decideBatch(records, existing, {
      now: Date.now(),
      policy: this.settings.policy,
      resolveManager: (w) => known.get(w),
      newPersonId: randomUUID,
      assigned,
    });
    return { outcomes, assigned, records };
  }

  private async apply(s: Snapshot): Promise<void> {
    const events = { ...s.events };
    let after = s.appliedThrough;
    for (;;) {
      const done = await this.db.transaction(async (tx) => {
        const rows = await this.repo.validRows(tx.sql, s.id, after, this.settings.SNAPSHOT_BATCH_SIZE, true);
        if (rows.length === 0) return true;
        const assigned = new Map(rows.map((r) => [r.record.workerId, r.personId]));
        const refs = rows.map((r) => r.record.managerWorkerId).filter((m): m is string => typeof m === 'string' && !assigned.has(m));
        for (const [w, p] of await this.repo.stagedPersonIds(tx.sql, s.id, refs)) assigned.set(w, p);
        const outcomes = await this.writer.applyRecords(
          tx.sql,
          s.source,
          rows.map((r) => r.record),
          { channel: 'CSV', batchId: s.id, assigned, where: 'file' },
        );
        const stale: { rowNo: number; errors: FieldError[] }[] = [];
        for (const o of outcomes) {
          for (const e of o.events) events[e.kind] = (events[e.kind] ?? 0) + 1;
          if (o.status === 'stale' || o.status === 'rejected') stale.push({ rowNo: rows[o.index]!.rowNo, errors: o.errors });
        }
        await this.repo.setIssues(tx.sql, s.id, 'rejection', stale);
        after = rows.at(-1)!.rowNo;
        await this.repo.update(tx.sql, s.id, { applied_through: after, events: JSON.stringify(events) });
        rowsProcessed.inc({ phase: 'apply' }, rows.length);
        return false;
      });
      if (done) break;
      await this.keepLease(s);
    }
    if (!s.absenteesDone) {
      let last = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        const ids = await this.repo.absentees(this.db.sql, s.id, last, this.settings.SNAPSHOT_BATCH_SIZE);
        if (ids.length === 0) break;
        last = ids.at(-1)!;
        await this.db.transaction(async (tx) => {
          const people = await this.persons.lockByIds(tx.sql, ids);
          const emitted = await this.writer.applyChange(tx.sql, people, { type: 'absent' }, { channel: 'CSV', batchId: s.id });
          for (const list of emitted.values()) for (const e of list) events[e.kind] = (events[e.kind] ?? 0) + 1;
          await this.repo.update(tx.sql, s.id, { events: JSON.stringify(events) });
        });
        await this.keepLease(s);
      }
    }
    const issues = await this.repo.countIssues(this.db.sql, s.id);
    await this.db.transaction(async (tx) => {
      await this.repo.update(tx.sql, s.id, {
        status: 'applied',
        absentees_done: true,
        rows_rejected: issues.rejected,
        rows_warned: issues.warnings,
        events: JSON.stringify(events),
        finished_at: new Date(),
        error: null,
      });
      await this.repo.supersedeOlderHolds(tx.sql, s);
    });
    this.logger.info({ snapshotId: s.id, source: s.source, rows: s.rowsTotal, events }, 'snapshot applied');
  }
}
