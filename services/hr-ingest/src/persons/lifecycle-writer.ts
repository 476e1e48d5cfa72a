import { EventTypes, Topics, type LifecycleEvent, type SourceChannel } from '@provisio/contracts';
import { decide, decideBatch, type Change, type Decision, type FieldError, type LifecyclePolicy, type WorkerRecord } from '@provisio/hr-ingest-domain';
import { type OutboxMessage, type OutboxWriter, uuidv7 } from '@provisio/messaging';
import { counter } from '@provisio/observability';
import type { SqlClient } from '@provisio/persistence';
import type { JobScheduler } from '@provisio/scheduler';
import { randomUUID } from 'node:crypto';
import type { PersonRepository, PersonWrite, StoredPerson } from './person.repository.js';

export const TRANSITION_JOB = 'hr-ingest.transition';

const eventsDecided = counter('provisio_hr_lifecycle_events_total', 'Lifecycle events hr-ingest decided (written to its outbox), by kind, stage and input channel', ['kind', 'stage', 'channel']);

export interface ApplyContext {
  channel: SourceChannel;
  /** Snapshot, bulk request or upload that carried the change. */
  batchId?: string | null;
  now?: number;
  /** personIds already assigned to new workers of a snapshot (reports resolve within it). */
  assigned?: ReadonlyMap<string, string>;
  /** Names the container in duplicate-record errors ("request", "file"). */
  where?: string;
  /**
   * Workers the caller just found not stored: not looked up again. Should one be created
   * meanwhile, the insert conflicts and the transaction runs again with a fresh read.
   */
  knownNew?: ReadonlySet<string>;
}

export interface EmittedEvent {
  eventId: string;
  kind: LifecycleEvent['kind'];
  stage: LifecycleEvent['stage'];
  effectiveAt: string;
}

export interface RecordOutcome {
  index: number;
  workerId: string;
  status: 'created' | 'changed' | 'unchanged' | 'stale' | 'rejected';
  personId?: string | undefined;
  version?: number | undefined;
  events: EmittedEvent[];
  errors: FieldError[];
  warnings: FieldError[];
}

interface Decided {
  prev: StoredPerson | undefined;
  decision: Decision;
  record?: WorkerRecord | undefined;
}

/**
 * Turns decisions into stored state, scheduled transitions and outbox rows, all in the caller's
 * transaction: a person's new state and its lifecycle events commit together or not at all.
 */
export class LifecycleWriter {
  constructor(
    private readonly persons: PersonRepository,
    private readonly outbox: OutboxWriter,
    private readonly scheduler: JobScheduler,
    private readonly policy: LifecyclePolicy,
  ) {}

  /** Applies records of one source (a delta batch, or a batch of snapshot rows). */
  async applyRecords(sql: SqlClient, source: string, records: readonly WorkerRecord[], ctx: ApplyContext): Promise<RecordOutcome[]> {
    const now = ctx.now ?? Date.now();
    const known = ctx.knownNew;
    const existing = await this.persons.lockByWorkerIds(sql, source, known ? records.filter((r) => !known.has(r.workerId)).map((r) => r.workerId) : records.map((r) => r.workerId));
    const managerRefs = new Set<string>();
    for (const r of records) if (r.managerWorkerId) managerRefs.add(r.managerWorkerId);
    for (const p of existing.values()) if (p.managerWorkerId) managerRefs.add(p.managerWorkerId);
    const managers = await this.persons.personIdsOf(sql, source, [...managerRefs].filter((m) => !existing.has(m)));
    const outcomes = decideBatch(records, existing, { now, policy: this.policy, resolveManager: (w) => managers.get(w), newPersonId: randomUUID, assigned: ctx.assigned }, ctx.where);

    const decided: Decided[] = [];
    const results: RecordOutcome[] = [];
    const created: string[] = [];
    const considered = new Set<string>();
    for (const o of outcomes) {
      if ('rejected' in o) {
        results.push({ index: o.index, workerId: o.record.workerId, status: 'rejected', events: [], errors: o.rejected, warnings: [] });
        continue;
      }
      const d = o.decision;
      const prev = existing.get(o.record.workerId);
      if (d.outcome !== 'stale') considered.add(o.record.workerId);
      if (d.outcome === 'created') created.push(o.record.workerId);
      decided.push({ prev, decision: d, record: o.record });
      results.push({
        index: o.index,
        workerId: o.record.workerId,
        status: d.outcome,
        personId: d.state?.personId,
        version: d.state?.version,
        events: [],
        errors: d.errors,
        warnings: d.warnings,
      });
    }

    // People who were waiting for one of the workers created here get their manager now.
    if (created.length > 0) {
      const arrived = new Map<string, string>();
      for (const d of decided) if (d.decision.outcome === 'created' && d.decision.state) arrived.set(d.decision.state.workerId, d.decision.state.personId);
      for (const report of await this.persons.lockWaitingFor(sql, source, created, [...considered])) {
        const decision = decide(report, { type: 'resolve-manager' }, { now, policy: this.policy, resolveManager: (w) => arrived.get(w), newPersonId: randomUUID });
        decided.push({ prev: report, decision });
      }
    }

    const emitted = await this.persist(sql, decided, ctx);
    for (const r of results) {
      if (r.personId) r.events = emitted.get(r.personId) ?? [];
    }
    return results;
  }

  /** Applies one change that is not an input (absent from a snapshot, SCIM delete, the clock) to stored persons. */
  async applyChange(sql: SqlClient, persons: readonly StoredPerson[], change: Exclude<Change, { type: 'record' }>, ctx: ApplyContext): Promise<Map<string, EmittedEvent[]>> {
    const now = ctx.now ?? Date.now();
    const decided = persons.map((prev) => ({
      prev,
      decision: decide(prev, change, { now, policy: this.policy, resolveManager: () => undefined, newPersonId: randomUUID }),
    }));
    return this.persist(sql, decided, ctx);
  }

  private async persist(sql: SqlClient, decided: readonly Decided[], ctx: ApplyContext): Promise<Map<string, EmittedEvent[]>> {
    const inserts: PersonWrite[] = [];
    const updates: PersonWrite[] = [];
    const messages: OutboxMessage<'LifecycleEvent'>[] = [];
    const emitted = new Map<string, EmittedEvent[]>();
    const jobs: { personId: string; dueAt: number | null; had: boolean }[] = [];
    for (const { prev, decision: d, record } of decided) {
      const state = d.state;
      if (!state || d.outcome === 'stale') continue;
      const next = d.nextTransitionAt;
      const previousNext = prev?.nextTransitionAt ?? null;
      const e = d.event;
      // recordedAt strictly increases per person, even across replicas whose clocks differ
      // (consumers drop an event older than the last one they applied as a replay).
      const recordedAt = e ? Math.max(Date.now(), (prev?.lastEventAt ?? 0) + 1) : null;
      if (d.write === 'insert') inserts.push({ state, nextTransitionAt: next, lastEventAt: recordedAt });
      else if (d.write === 'update' || next !== previousNext) updates.push({ state, nextTransitionAt: next, lastEventAt: recordedAt });
      if (next !== previousNext) jobs.push({ personId: state.personId, dueAt: next, had: previousNext !== null });
      if (!e || recordedAt === null) continue;
      const eventId = uuidv7(recordedAt);
      const value: LifecycleEvent = {
        eventId,
        kind: e.kind,
        stage: e.stage,
        personId: state.personId,
        effectiveAt: e.effectiveAt,
        recordedAt,
        source: {
          system: state.source,
          workerId: state.workerId,
          sequence: record?.sequence ?? null,
          sourceTimestamp: record?.sourceTimestamp ?? null,
          batchId: ctx.batchId ?? null,
          channel: ctx.channel,
        },
        attributes: e.attributes,
        changedAttributes: e.changedAttributes,
        previousAttributes: e.previousAttributes,
        reason: e.reason,
        timeZone: e.timeZone,
      };
      messages.push({ id: eventId, topic: Topics.lifecycle, key: state.personId, aggregateType: 'person', type: EventTypes.lifecycle(e.kind), schema: 'LifecycleEvent', value, time: new Date(recordedAt) });
      emitted.set(state.personId, [...(emitted.get(state.personId) ?? []), { eventId, kind: e.kind, stage: e.stage, effectiveAt: new Date(e.effectiveAt).toISOString() }]);
    }
    if (!(await this.persons.insertMany(sql, inserts))) {
      // Another transaction created one of these workers first: run again, as updates.
      throw Object.assign(new Error('concurrent first sight of a worker'), { code: '40001' });
    }
    await this.persons.updateMany(sql, updates);
    for (const j of jobs) {
      if (j.dueAt !== null) await this.scheduler.schedule(sql, { kind: TRANSITION_JOB, key: j.personId, dueAt: new Date(j.dueAt) });
      else if (j.had) await this.scheduler.cancel(sql, TRANSITION_JOB, j.personId);
    }
    await this.outbox.enqueue(sql, messages);
    for (const m of messages) eventsDecided.inc({ kind: m.value.kind, stage: m.value.stage, channel: ctx.channel });
    return emitted;
  }
}
