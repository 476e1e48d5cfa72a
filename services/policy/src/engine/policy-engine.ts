import { EventTypes, Topics, type ProvisioningCommand } from '@provisio/contracts';
import { OutboxWriter, uuidv7, type Headers, type OutboxMessage } from '@provisio/messaging';
import { counter, histogram } from '@provisio/observability';
import type { SqlClient } from '@provisio/persistence';
import {
  applyLifecycleEvent,
  evaluate,
  sameDesired,
  type CompiledPolicy,
  type Evaluation,
  type LifecycleFacts,
  type PersonRecord,
  type Violation,
} from '@provisio/policy-domain';
import type { JobScheduler } from '@provisio/scheduler';
import type { PolicyStore } from '../policy/policy-store.js';
import type { PersonState, PersonStateRepository, PersonWrite, TargetWrite } from './person-state.repository.js';

export const REEVALUATE_JOB = 'person-reevaluate';

export type CauseReason = 'lifecycle' | 'policy-change' | 'scheduled' | 'manual-assignment' | 'sod-exception';

/** One unit of work: apply a lifecycle event, or re-evaluate a known person. */
export interface WorkItem {
  personId: string;
  event?: LifecycleFacts & { eventId: string };
  reason: CauseReason;
  /** HR effective time of what caused this (feeds time-to-provision); null when not an HR change. */
  hrEffectiveAt: number | null;
  /** Headers of the lifecycle record, so its commands continue its trace. */
  traceHeaders?: Headers;
}

export interface BatchOutcome {
  persons: number;
  commands: number;
  stale: number;
  unknown: number;
}

const commandsIssued = counter('provisio_policy_commands_total', 'Provisioning commands issued, by target and reason', ['target', 'reason']);
const evaluations = counter('provisio_policy_evaluations_total', 'Person evaluations, by reason', ['reason']);
const violationsCounter = counter('provisio_policy_sod_violations_total', 'SoD violation events, by rule and status', ['rule', 'status']);
const evalSeconds = histogram(
  'provisio_policy_batch_seconds',
  'Time to evaluate and write one batch of persons',
  ['reason'],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
);

function violationChanged(a: Violation | undefined, b: Violation): boolean {
  return (
    !a || a.status !== b.status || a.exceptionId !== b.exceptionId || a.conflicting.join() !== b.conflicting.join() || a.dropped.join() !== b.dropped.join()
  );
}

/**
 * The policy engine: per person, compute the desired state of every target and emit a full-state
 * ProvisioningCommand (version + 1) only where it changed. Works in batches inside the caller's
 * transaction: person rows are locked (in id order), state loaded in bulk, commands, state,
 * violations and the person's next timed re-evaluation written together.
 */
export class PolicyEngine {
  constructor(
    private readonly store: PolicyStore,
    private readonly persons: PersonStateRepository,
    private readonly outbox: OutboxWriter,
    private readonly scheduler: JobScheduler,
  ) {}

  async process(sql: SqlClient, items: WorkItem[], o: { now?: number; policy?: { version: number; policy: CompiledPolicy } } = {}): Promise<BatchOutcome> {
    const started = process.hrtime.bigint();
    const outcome: BatchOutcome = { persons: 0, commands: 0, stale: 0, unknown: 0 };
    if (items.length === 0) return outcome;
    const states = await this.persons.load(
      sql,
      items.map((i) => i.personId),
      { lock: true },
    );
    const active = o.policy ?? (await this.store.active(sql));
    if (!active) {
      // No policy yet: remember the facts, evaluate when one is activated.
      const writes = new Map<string, PersonWrite>();
      for (const item of items) {
        if (!item.event) continue;
        const record = applyLifecycleEvent(states.get(item.personId)?.record, item.event);
        if (record) writes.set(item.personId, { record, evaluatedVersion: 0, nextEvaluationAt: null });
      }
      await this.persons.savePersons(sql, [...writes.values()]);
      return outcome;
    }
    const messages: OutboxMessage[] = [];
    const targetWrites = new Map<string, TargetWrite>();
    const personWrites = new Map<string, PersonWrite>();
    const schedule = new Map<string, number | null>();

    for (const item of items) {
      const now = o.now ?? Date.now();
      let state = states.get(item.personId);
      let record: PersonRecord | undefined;
      if (item.event) {
        record = applyLifecycleEvent(state?.record, item.event);
        if (!record) {
          outcome.stale++;
          continue;
        }
      } else if (!state) {
        outcome.unknown++;
        continue;
      } else record = state.record;
      if (!state) {
        state = {
          record,
          evaluatedVersion: 0,
          nextEvaluationAt: null,
          targets: {},
          allocations: {},
          manual: [],
          exceptions: [],
          violations: new Map(),
          stored: false,
        };
        states.set(item.personId, state);
      }
      state.record = record;
      evaluations.inc({ reason: item.reason });

      let evaluation = this.evaluate(active.policy, state, now, item.event?.kind ?? null);
      if (evaluation.allocations.length > 0) {
        for (const req of evaluation.allocations) state.allocations[req.namespace] = await this.persons.allocate(sql, item.personId, req);
        evaluation = this.evaluate(active.policy, state, now, item.event?.kind ?? null);
      }

      for (const t of evaluation.targets) {
        const prev = state.targets[t.target];
        const desiredChanged = t.desired !== null && !sameDesired(prev?.desired ?? null, t.desired);
        const memoryChanged = prev !== undefined && (JSON.stringify(prev.retained) !== JSON.stringify(t.memory.retained) || prev.lostAt !== t.memory.lostAt);
        if (!desiredChanged && !memoryChanged) continue;
        const version = (prev?.version ?? 0) + (desiredChanged ? 1 : 0);
        const desired = desiredChanged ? t.desired! : prev!.desired!;
        let commandId: string | null = null;
        if (desiredChanged) {
          commandId = uuidv7(now);
          const command: ProvisioningCommand = {
            commandId,
            personId: item.personId,
            target: t.target,
            targetKind: t.kind,
            version,
            state: desired.state,
            accountName: desired.accountName,
            attributes: desired.attributes,
            groups: desired.groups,
            cause: {
              lifecycleEventId: item.event?.eventId ?? null,
              lifecycleKind: item.event?.kind ?? null,
              policyVersion: active.version,
              reason: item.reason,
            },
            hrEffectiveAt: item.hrEffectiveAt,
            issuedAt: now,
          };
          messages.push({
            id: commandId,
            topic: Topics.commands(t.kind),
            key: item.personId,
            aggregateType: 'person-target',
            type: EventTypes.command,
            schema: 'ProvisioningCommand',
            value: command,
            ...(item.traceHeaders ? { traceHeaders: item.traceHeaders } : {}),
          });
          commandsIssued.inc({ target: t.target, reason: item.reason });
          outcome.commands++;
        }
        state.targets[t.target] = {
          ...(prev ?? { appliedVersion: null, lastStatus: null, lastError: null, targetKind: t.kind }),
          version,
          desired,
          retained: t.memory.retained,
          lostAt: t.memory.lostAt,
          policyVersion: active.version,
        };
        targetWrites.set(`${item.personId}\u0000${t.target}`, {
          personId: item.personId,
          target: t.target,
          targetKind: t.kind,
          version,
          desired,
          retained: t.memory.retained,
          lostAt: t.memory.lostAt,
          policyVersion: active.version,
          commandId,
        });
      }

      await this.recordViolations(sql, item, state, evaluation, active.version, now, messages);
      await this.endAssignments(sql, item.personId, state, evaluation);

      const heldRoles = evaluation.roles.map((r) => r.id).sort();
      state.record = { ...record, heldRoles };
      if (evaluation.nextEvaluationAt !== state.nextEvaluationAt) schedule.set(item.personId, evaluation.nextEvaluationAt);
      if (
        !state.stored ||
        item.event ||
        state.evaluatedVersion !== active.version ||
        evaluation.nextEvaluationAt !== state.nextEvaluationAt ||
        heldRoles.join() !== record.heldRoles.join()
      ) {
        personWrites.set(item.personId, { record: state.record, evaluatedVersion: active.version, nextEvaluationAt: evaluation.nextEvaluationAt });
      }
      state.evaluatedVersion = active.version;
      state.nextEvaluationAt = evaluation.nextEvaluationAt;
      state.stored = true;
      outcome.persons++;
    }

    await this.persons.savePersons(sql, [...personWrites.values()]);
    await this.persons.saveTargets(sql, [...targetWrites.values()]);
    await this.outbox.enqueue(sql, messages);
    const due = [...schedule].filter(([, at]) => at !== null) as [string, number][];
    await this.scheduler.scheduleMany(
      sql,
      due.map(([personId, at]) => ({ kind: REEVALUATE_JOB, key: personId, dueAt: new Date(at) })),
    );
    await this.scheduler.cancelMany(
      sql,
      REEVALUATE_JOB,
      [...schedule].filter(([, at]) => at === null).map(([p]) => p),
    );
    evalSeconds.observe({ reason: items[0]!.reason }, Number(process.hrtime.bigint() - started) / 1e9);
    return outcome;
  }

  evaluate(policy: CompiledPolicy, state: PersonState, now: number, trigger: LifecycleFacts['kind'] | null, explain = false): Evaluation {
    return evaluate(policy, {
      person: state.record,
      now,
      trigger,
      manual: state.manual,
      exceptions: state.exceptions,
      allocations: state.allocations,
      previous: state.targets,
      explain,
    });
  }

  private async recordViolations(
    sql: SqlClient,
    item: WorkItem,
    state: PersonState,
    evaluation: Evaluation,
    version: number,
    now: number,
    messages: OutboxMessage[],
  ): Promise<void> {
    const personId = item.personId;
    const seen = new Set<string>();
    const emit = (v: Violation, status: Violation['status'] | 'RESOLVED') => {
      const violationId = uuidv7(now);
      messages.push({
        id: violationId,
        topic: Topics.policyViolations,
        key: personId,
        aggregateType: 'person',
        type: EventTypes.policyViolation,
        schema: 'PolicyViolation',
        value: {
          violationId,
          personId,
          ruleId: v.ruleId,
          policyVersion: version,
          mode: v.mode === 'prevent' ? 'PREVENT' : 'FLAG',
          status,
          conflicting: v.conflicting,
          dropped: v.dropped,
          exceptionId: v.exceptionId,
          detectedAt: now,
        },
        ...(item.traceHeaders ? { traceHeaders: item.traceHeaders } : {}),
      });
      violationsCounter.inc({ rule: v.ruleId, status });
    };
    for (const v of evaluation.violations) {
      seen.add(v.ruleId);
      if (!violationChanged(state.violations.get(v.ruleId), v)) continue;
      await this.persons.saveViolation(sql, personId, v, version);
      state.violations.set(v.ruleId, v);
      emit(v, v.status);
    }
    for (const [ruleId, v] of state.violations) {
      if (seen.has(ruleId)) continue;
      await this.persons.deleteViolation(sql, personId, ruleId);
      state.violations.delete(ruleId);
      emit(v, 'RESOLVED');
    }
  }

  private async endAssignments(sql: SqlClient, personId: string, state: PersonState, evaluation: Evaluation): Promise<void> {
    if (evaluation.expiredAssignments.length === 0 && evaluation.revokedAssignments.length === 0) return;
    const expired = await this.persons.endAssignments(sql, evaluation.expiredAssignments, 'expired', 'system:scheduler', 'expired');
    const revoked = await this.persons.endAssignments(sql, evaluation.revokedAssignments, 'revoked', 'system:lifecycle', 'leaver');
    for (const [rows, kind] of [
      [expired, 'ASSIGNMENT_EXPIRED'],
      [revoked, 'ASSIGNMENT_REVOKED'],
    ] as const) {
      for (const a of rows) {
        await this.store.change(
          sql,
          kind,
          null,
          kind === 'ASSIGNMENT_EXPIRED' ? 'system:scheduler' : 'system:lifecycle',
          kind === 'ASSIGNMENT_EXPIRED' ? 'expired' : 'leaver',
          { role: a.role, target: a.target, group: a.group_name },
          { personId, subjectId: a.id },
        );
      }
    }
    const ended = new Set([...evaluation.expiredAssignments, ...evaluation.revokedAssignments]);
    state.manual = state.manual.filter((m) => !ended.has(m.id));
  }
}
