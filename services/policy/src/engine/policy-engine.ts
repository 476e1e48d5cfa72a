import { EventTypes, Topics, type ProvisioningCommand } from '@provisio/contracts';
import { OutboxWriter, uuidv7, type Headers, type OutboxMessage } from '@provisio/messaging';
import { counter, histogram } from '@provisio/observability';
import type { SqlClient } from '@provisio/persistence';
import {
  applyLifecycleEvent,
  evaluate,
  newPersonRecord,
  policyDecision,
  sameDesired,
  UTC,
  type AllocationRequest,
  type CompiledPolicy,
  type Evaluation,
  type IssuedCommand,
  type LifecycleFacts,
  type PersonRecord,
  type TimeZone,
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
const decisionsCounter = counter(
  'provisio_policy_decisions_total',
  'PolicyDecision records written (one per person evaluation that issued commands), by reason',
  ['reason'],
);
const violationsCounter = counter('provisio_policy_sod_violations_total', 'SoD violation events, by rule and status', ['rule', 'status']);
const evalSeconds = histogram(
  'provisio_policy_batch_seconds',
  'Time to evaluate and write one batch of persons',
  ['reason'],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
);

function sameRetained(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

function violationChanged(a: Violation | undefined, b: Violation): boolean {
  return (
    !a || a.status !== b.status || a.exceptionId !== b.exceptionId || a.conflicting.join() !== b.conflicting.join() || a.dropped.join() !== b.dropped.join()
  );
}

/** What one batch writes, collected while its persons are evaluated and written in a few statements at the end. */
interface BatchWrites {
  messages: OutboxMessage[];
  targets: Map<string, TargetWrite>;
  /** Persons whose facts changed (full upsert) and persons only re-evaluated (light update). */
  persons: Map<string, PersonWrite>;
  evaluations: Map<string, PersonWrite>;
  violations: Map<string, { personId: string; ruleId: string; violation: Violation | null; policyVersion: number }>;
  schedule: Map<string, number | null>;
}

/**
 * The policy engine: per person, compute the desired state of every target and emit a full-state
 * ProvisioningCommand (version + 1) only where it changed. Works in batches inside the caller's
 * transaction: person rows are locked (in id order), state loaded in bulk, unique values
 * allocated in bulk, and commands, state, violations and the persons' next timed re-evaluation
 * written together in a handful of multi-row statements.
 */
export class PolicyEngine {
  constructor(
    private readonly store: PolicyStore,
    private readonly persons: PersonStateRepository,
    private readonly outbox: OutboxWriter,
    private readonly scheduler: JobScheduler,
    /** Zone of HR dates without an offset when no policy is active yet (else the policy's). */
    private readonly zone: TimeZone = UTC,
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
        const record = applyLifecycleEvent(writes.get(item.personId)?.record ?? states.get(item.personId)?.record, item.event, this.zone);
        if (record) writes.set(item.personId, { record, evaluatedVersion: 0, nextEvaluationAt: null });
      }
      await this.persons.savePersons(sql, [...writes.values()]);
      return outcome;
    }
    const w: BatchWrites = { messages: [], targets: new Map(), persons: new Map(), evaluations: new Map(), violations: new Map(), schedule: new Map() };

    // Items run in order. One that needs a unique value that is not allocated yet waits, with
    // every later item of its person, for one bulk allocation per round; then they run again.
    let queue = items;
    for (let round = 0; queue.length > 0; round++) {
      // Each round allocates every value its persons asked for; a person asks again only when a
      // later event of theirs in this batch brings a new target, so few rounds ever happen.
      if (round > 2 * items.length + 2) throw new Error('unique value allocation did not converge');
      const waiting = new Set<string>();
      const later: WorkItem[] = [];
      const requests: (AllocationRequest & { personId: string })[] = [];
      for (const item of queue) {
        if (waiting.has(item.personId)) {
          later.push(item);
          continue;
        }
        const needs = await this.step(sql, item, states, active, o.now ?? Date.now(), w, outcome);
        if (needs) {
          waiting.add(item.personId);
          later.push(item);
          for (const r of needs) requests.push({ ...r, personId: item.personId });
        }
      }
      if (requests.length > 0) {
        const allocated = await this.persons.allocateMany(sql, requests);
        for (const [personId, values] of allocated) Object.assign(states.get(personId)!.allocations, values);
      }
      queue = later;
    }

    await this.persons.savePersons(sql, [...w.persons.values()]);
    await this.persons.saveEvaluations(
      sql,
      [...w.evaluations.values()].filter((e) => !w.persons.has(e.record.personId)),
    );
    await this.persons.saveTargets(sql, [...w.targets.values()]);
    const violations = [...w.violations.values()];
    await this.persons.saveViolations(
      sql,
      violations.filter((v) => v.violation !== null).map((v) => ({ personId: v.personId, violation: v.violation!, policyVersion: v.policyVersion })),
      violations.filter((v) => v.violation === null).map((v) => ({ personId: v.personId, ruleId: v.ruleId })),
    );
    await this.outbox.enqueue(sql, w.messages);
    const due = [...w.schedule].filter(([, at]) => at !== null) as [string, number][];
    await this.scheduler.scheduleMany(
      sql,
      due.map(([personId, at]) => ({ kind: REEVALUATE_JOB, key: personId, dueAt: new Date(at) })),
    );
    await this.scheduler.cancelMany(
      sql,
      REEVALUATE_JOB,
      [...w.schedule].filter(([, at]) => at === null).map(([p]) => p),
    );
    evalSeconds.observe({ reason: items[0]!.reason }, Number(process.hrtime.bigint() - started) / 1e9);
    return outcome;
  }

  /**
   * One item: apply its event, evaluate, and record what changed. Returns the unique values to
   * allocate first when the evaluation needs some (nothing is recorded then).
   */
  private async step(
    sql: SqlClient,
    item: WorkItem,
    states: Map<string, PersonState>,
    active: { version: number; policy: CompiledPolicy },
    now: number,
    w: BatchWrites,
    outcome: BatchOutcome,
  ): Promise<AllocationRequest[] | undefined> {
    let state = states.get(item.personId);
    let record: PersonRecord | undefined;
    if (item.event) {
      record = applyLifecycleEvent(state?.record, item.event, active.policy.timeZone);
      if (!record) {
        outcome.stale++;
        return undefined;
      }
    } else if (!state) {
      outcome.unknown++;
      return undefined;
    } else record = state.record;
    if (!state) {
      // A new person; allocations made for them in this batch are kept here.
      state = {
        record: newPersonRecord(item.personId, record.attributes),
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
    // A decision record explains every evaluation that issues commands. Explanations cost an
    // evaluation with traces: joiners, movers, leavers, rehires and conversions nearly always
    // change something, so they are evaluated with explanations at once; updates and
    // re-evaluations (mostly no-ops) without, and again with explanations only when a desired
    // state changed. Both decide the same (the evaluator's property tests).
    const explainFirst = item.event !== undefined && item.event.kind !== 'UPDATE';
    const input = {
      person: record,
      now,
      trigger: item.event?.kind ?? null,
      manual: state.manual,
      exceptions: state.exceptions,
      allocations: state.allocations,
      previous: state.targets,
    };
    const evaluation = evaluate(active.policy, { ...input, explain: explainFirst });
    if (evaluation.allocations.length > 0) return evaluation.allocations;
    evaluations.inc({ reason: item.reason });

    const changed = new Set<string>();
    for (const t of evaluation.targets) if (t.desired !== null && !sameDesired(state.targets[t.target]?.desired ?? null, t.desired)) changed.add(t.target);
    const decisionId = changed.size > 0 ? uuidv7(now) : null;
    // The loop below replaces state.targets' entries: a second evaluation reads the state before it.
    const previousTargets = decisionId !== null && !explainFirst ? { ...state.targets } : state.targets;
    const issued = new Map<string, IssuedCommand>();
    // This person's commands, written after their decision.
    const commands: OutboxMessage[] = [];

    for (const t of evaluation.targets) {
      const prev = state.targets[t.target];
      const desiredChanged = changed.has(t.target);
      const memoryChanged = prev !== undefined && (prev.lostAt !== t.memory.lostAt || !sameRetained(prev.retained, t.memory.retained));
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
            decisionId,
          },
          hrEffectiveAt: item.hrEffectiveAt,
          issuedAt: now,
        };
        commands.push({
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
        issued.set(t.target, { commandId, version, state: desired.state, accountName: desired.accountName });
      }
      state.targets[t.target] = {
        ...(prev ?? { appliedVersion: null, lastStatus: null, lastError: null, targetKind: t.kind }),
        version,
        desired,
        retained: t.memory.retained,
        lostAt: t.memory.lostAt,
        policyVersion: active.version,
      };
      const key = `${item.personId}\u0000${t.target}`;
      w.targets.set(key, {
        personId: item.personId,
        target: t.target,
        targetKind: t.kind,
        version,
        desired,
        retained: t.memory.retained,
        lostAt: t.memory.lostAt,
        policyVersion: active.version,
        // A later item of the person in this batch that changes nothing keeps this command id.
        commandId: commandId ?? w.targets.get(key)?.commandId ?? null,
      });
    }

    if (decisionId !== null) {
      const explained = explainFirst ? evaluation : evaluate(active.policy, { ...input, previous: previousTargets, explain: true });
      const decision = policyDecision({
        decisionId,
        personId: item.personId,
        cause: {
          lifecycleEventId: item.event?.eventId ?? null,
          lifecycleKind: item.event?.kind ?? null,
          reason: item.reason,
          hrEffectiveAt: item.hrEffectiveAt,
        },
        policyVersion: active.version,
        decidedAt: now,
        explained,
        commands: issued,
      });
      // Before its commands in the outbox (and so on Kafka, per relay batch): the same transaction
      // writes both, so a decision exists exactly when its commands do.
      w.messages.push({
        id: decisionId,
        topic: Topics.policyDecisions,
        key: item.personId,
        aggregateType: 'person',
        type: EventTypes.policyDecision,
        schema: 'PolicyDecision',
        value: decision,
        ...(item.traceHeaders ? { traceHeaders: item.traceHeaders } : {}),
      });
      decisionsCounter.inc({ reason: item.reason });
    }
    for (const m of commands) w.messages.push(m);

    this.recordViolations(item, state, evaluation, active.version, now, w);
    await this.endAssignments(sql, item.personId, state, evaluation);

    const heldRoles = evaluation.roles.map((r) => r.id).sort();
    const rolesChanged = heldRoles.join() !== record.heldRoles.join();
    state.record = { ...record, heldRoles };
    if (evaluation.nextEvaluationAt !== state.nextEvaluationAt) w.schedule.set(item.personId, evaluation.nextEvaluationAt);
    const write = { record: state.record, evaluatedVersion: active.version, nextEvaluationAt: evaluation.nextEvaluationAt };
    if (!state.stored || item.event || w.persons.has(item.personId)) w.persons.set(item.personId, write);
    else if (
      state.evaluatedVersion !== active.version ||
      evaluation.nextEvaluationAt !== state.nextEvaluationAt ||
      rolesChanged ||
      w.evaluations.has(item.personId)
    ) {
      w.evaluations.set(item.personId, write);
    }
    state.evaluatedVersion = active.version;
    state.nextEvaluationAt = evaluation.nextEvaluationAt;
    state.stored = true;
    outcome.persons++;
    return undefined;
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

  private recordViolations(item: WorkItem, state: PersonState, evaluation: Evaluation, version: number, now: number, w: BatchWrites): void {
    const personId = item.personId;
    const seen = new Set<string>();
    const emit = (v: Violation, status: Violation['status'] | 'RESOLVED') => {
      const violationId = uuidv7(now);
      w.messages.push({
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
      w.violations.set(`${personId}\u0000${v.ruleId}`, { personId, ruleId: v.ruleId, violation: v, policyVersion: version });
      state.violations.set(v.ruleId, v);
      emit(v, v.status);
    }
    for (const [ruleId, v] of state.violations) {
      if (seen.has(ruleId)) continue;
      w.violations.set(`${personId}\u0000${ruleId}`, { personId, ruleId, violation: null, policyVersion: version });
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
