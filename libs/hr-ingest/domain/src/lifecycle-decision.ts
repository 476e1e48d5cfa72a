import type { HrAttributes, LifecycleKind, LifecycleStage } from '@provisio/contracts';
import { hrInstant } from './dates.js';
import { fieldError, type FieldError } from './field-error.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';
import { zoneFor } from './time-zones.js';
import { HR_FIELDS, type WorkerRecord } from './worker-input.js';
import { ATTRIBUTE_NAMES, EMPTY_ATTRIBUTES, type PersonState, type Phase, type Removal } from './worker-record.js';

/** What happened to a worker. */
export type Change =
  /** An input (delta, or one row of a snapshot): attributes it carries overwrite, absent ones stay. */
  | { type: 'record'; record: WorkerRecord }
  /** Missing from a full snapshot (when absent workers count as leavers). */
  | { type: 'absent' }
  /** Deleted through SCIM. */
  | { type: 'delete' }
  /** Time passed: a start or termination date may have been reached (the scheduler). */
  | { type: 'clock' }
  /** The manager this person refers to may have arrived: resolve the reference again. */
  | { type: 'resolve-manager' };

export interface DecideContext {
  now: number;
  policy: LifecyclePolicy;
  /** personId of a worker of the same source, when hr-ingest knows that worker. */
  resolveManager: (workerId: string) => string | undefined;
  /** A fresh personId, for a worker seen for the first time. */
  newPersonId: () => string;
}

/** One lifecycle event to emit. */
export interface LifecycleDecision {
  kind: LifecycleKind;
  stage: LifecycleStage;
  effectiveAt: number;
  /** The person after the change as consumers see it (status reflects the phase). */
  attributes: HrAttributes;
  previousAttributes: HrAttributes | null;
  changedAttributes: string[];
  reason: string;
  timeZone: string;
}

export interface Decision {
  /** stale: refused (errors say why); unchanged: nothing to store or emit. */
  outcome: 'created' | 'changed' | 'unchanged' | 'stale';
  /** The person's state after the decision (undefined only for a change about an unknown worker). */
  state: PersonState | undefined;
  write: 'insert' | 'update' | 'none';
  event: LifecycleDecision | undefined;
  errors: FieldError[];
  /** Accepted with a remark, e.g. a manager who is not known yet. */
  warnings: FieldError[];
  /** The next instant at which time alone may change the person's phase (a start or an end). */
  nextTransitionAt: number | null;
}

interface Instants {
  hire: number | undefined;
  term: number | undefined;
}

function instantsOf(a: HrAttributes, zone: string): Instants {
  return {
    hire: a.hireDate ? hrInstant(a.hireDate, zone, 'start') : undefined,
    term: a.terminationDate ? hrInstant(a.terminationDate, zone, 'end') : undefined,
  };
}

/**
 * The phase HR data implies at `now`. A termination date before the latest hire date belongs to
 * an earlier employment and is ignored; a `terminated` status with a future termination date
 * means "leaving then".
 */
export function phaseAt(a: HrAttributes, removal: Removal | null, zone: string, now: number): Phase {
  if (removal) return 'terminated';
  const { hire, term } = instantsOf(a, zone);
  const termCurrent = term !== undefined && !(hire !== undefined && hire >= term);
  if (termCurrent && term <= now) return 'terminated';
  if (a.status === 'terminated' && !termCurrent) return 'terminated';
  if (hire !== undefined && hire > now) return 'pre-hire';
  if (a.status === 'pre-hire' && hire === undefined) return 'pre-hire';
  return 'active';
}

function nextTransition(a: HrAttributes, removal: Removal | null, zone: string, now: number): number | null {
  if (removal) return null;
  const { hire, term } = instantsOf(a, zone);
  let next: number | null = null;
  for (const t of [hire, term]) if (t !== undefined && t > now && (next === null || t < next)) next = t;
  return next;
}

/** The attributes consumers see: status follows the phase (pre-hire, active, leave, terminated). */
export function viewOf(a: HrAttributes, phase: Phase): HrAttributes {
  const status = phase === 'active' ? (a.status === 'leave' || a.onLeave === true ? 'leave' : 'active') : phase;
  return a.status === status ? a : { ...a, status };
}

/** Names of the attributes that differ (`custom.<key>` for extension attributes), sorted. */
export function changedBetween(before: HrAttributes | null, after: HrAttributes): string[] {
  const b = before ?? EMPTY_ATTRIBUTES;
  const out: string[] = [];
  for (const k of ATTRIBUTE_NAMES) if ((b[k] ?? null) !== (after[k] ?? null)) out.push(k);
  for (const k of new Set([...Object.keys(b.custom), ...Object.keys(after.custom)])) {
    if (b.custom[k] !== after.custom[k]) out.push(`custom.${k}`);
  }
  return out.sort();
}

function merge(current: HrAttributes, input: WorkerRecord['attributes']): HrAttributes {
  const next: HrAttributes = { ...current, custom: { ...current.custom } };
  const target = next as unknown as Record<string, unknown>;
  for (const k of HR_FIELDS) {
    const v = input[k];
    if (v !== undefined) target[k] = v;
  }
  if (input.custom) {
    for (const [k, v] of Object.entries(input.custom)) {
      if (v === null) delete next.custom[k];
      else next.custom[k] = v;
    }
  }
  return next;
}

function staleness(prev: PersonState, r: WorkerRecord): FieldError | undefined {
  if (r.sequence !== undefined && prev.sequence !== null && r.sequence < prev.sequence) {
    return fieldError('sequence', r.sequence, 'not-older-than-stored', `sequence ${r.sequence} is lower than ${prev.sequence}, the last one applied; newer state is kept`);
  }
  if (r.sourceTimestamp !== undefined && prev.sourceTimestamp !== null && r.sourceTimestamp < prev.sourceTimestamp) {
    return fieldError(
      'sourceTimestamp',
      new Date(r.sourceTimestamp).toISOString(),
      'not-older-than-stored',
      `source timestamp is older than ${new Date(prev.sourceTimestamp).toISOString()}, the last change applied; newer state is kept`,
    );
  }
  return undefined;
}

function kindOfChange(changed: readonly string[], policy: LifecyclePolicy): LifecycleKind {
  if (changed.includes('workerType')) return 'CONVERSION';
  return changed.some((c) => policy.moverAttributes.has(c)) ? 'MOVER' : 'UPDATE';
}

function sameState(a: PersonState, b: PersonState): boolean {
  return (
    a.managerWorkerId === b.managerWorkerId &&
    a.phase === b.phase &&
    a.startKind === b.startKind &&
    a.joined === b.joined &&
    a.removal?.at === b.removal?.at &&
    a.removal?.by === b.removal?.by &&
    a.attributes.status === b.attributes.status &&
    changedBetween(a.attributes, b.attributes).length === 0
  );
}

/**
 * The differ: given a person's stored state (undefined for a worker never seen) and one change,
 * decides the person's next state and the lifecycle event to emit, if any. Pure; the same
 * change applied twice decides nothing the second time.
 */
export function decide(prev: PersonState | undefined, change: Change, ctx: DecideContext): Decision {
  const { now, policy } = ctx;
  const warnings: FieldError[] = [];
  if (!prev && change.type !== 'record') {
    return { outcome: 'unchanged', state: undefined, write: 'none', event: undefined, errors: [], warnings, nextTransitionAt: null };
  }
  if (prev && change.type === 'record') {
    const stale = staleness(prev, change.record);
    if (stale) {
      const zone = zoneFor(policy.timeZones, prev.attributes.location, prev.attributes.countryCode);
      return { outcome: 'stale', state: prev, write: 'none', event: undefined, errors: [stale], warnings, nextTransitionAt: nextTransition(prev.attributes, prev.removal, zone, now) };
    }
  }

  const base: PersonState = prev ?? {
    personId: ctx.newPersonId(),
    source: change.type === 'record' ? change.record.source : '',
    workerId: change.type === 'record' ? change.record.workerId : '',
    attributes: EMPTY_ATTRIBUTES,
    managerWorkerId: null,
    phase: 'terminated',
    startKind: null,
    joined: false,
    removal: null,
    sourceTimestamp: null,
    sequence: null,
    version: 0,
  };

  let attributes = base.attributes;
  let managerWorkerId = base.managerWorkerId;
  let removal = base.removal;
  let reason = 'hr-change';
  if (change.type === 'record') {
    const r = change.record;
    attributes = merge(base.attributes, r.attributes);
    removal = null;
    if (r.managerWorkerId !== undefined) managerWorkerId = r.managerWorkerId;
  } else if (change.type === 'absent' || change.type === 'delete') {
    reason = change.type === 'absent' ? 'absent-from-snapshot' : 'scim-delete';
    if (!removal && base.phase !== 'terminated') removal = { at: now, by: reason as Removal['by'] };
  }

  // Manager: resolve the reference; a self-reference (top of the hierarchy) means no manager.
  if (change.type === 'record' || change.type === 'resolve-manager') {
    let managerPersonId: string | null = null;
    if (managerWorkerId !== null && managerWorkerId !== base.workerId) {
      managerPersonId = ctx.resolveManager(managerWorkerId) ?? (managerWorkerId === base.managerWorkerId ? base.attributes.managerPersonId : null);
      if (managerPersonId === null) {
        warnings.push(
          fieldError('managerWorkerId', managerWorkerId, 'manager-known', 'the manager is not known yet; the reference is kept and resolved when that worker arrives'),
        );
      }
    }
    if (managerPersonId !== attributes.managerPersonId) attributes = { ...attributes, managerPersonId };
    if (change.type === 'resolve-manager') reason = 'manager-resolved';
  }

  const zone = zoneFor(policy.timeZones, attributes.location, attributes.countryCode);
  const phase = phaseAt(attributes, removal, zone, now);
  const nextTransitionAt = nextTransition(attributes, removal, zone, now);
  const { hire, term } = instantsOf(attributes, zone);
  // Consumers have seen a person only once a JOINER was announced.
  const prevView = prev?.joined ? viewOf(prev.attributes, prev.phase) : null;
  const nextView = viewOf(attributes, phase);
  const changed = changedBetween(prevView, nextView);

  let event: Omit<LifecycleDecision, 'attributes' | 'previousAttributes' | 'changedAttributes' | 'timeZone'> | undefined;
  let startKind = base.startKind;
  let joined = base.joined;
  const startedAt = hire !== undefined && hire <= now ? hire : now;
  // Time alone moved the person (a start or an end date was reached), or an input did.
  const timeDriven = change.type === 'clock' || change.type === 'resolve-manager';
  if (!prev || prev.phase === 'terminated') {
    if (phase !== 'terminated') {
      // A first appearance, or a return after a termination (same personId).
      const kind: LifecycleKind = prev?.joined ? 'REHIRE' : 'JOINER';
      event =
        phase === 'pre-hire'
          ? { kind, stage: 'PRE_HIRE', effectiveAt: hire ?? now, reason }
          : { kind, stage: 'EFFECTIVE', effectiveAt: startedAt, reason: timeDriven ? 'start-date-reached' : reason };
      startKind = phase === 'pre-hire' ? kind : null;
      joined = true;
    } else if (prev?.joined && changed.length > 0) {
      event = { kind: 'UPDATE', stage: 'EFFECTIVE', effectiveAt: now, reason };
    }
  } else if (phase === 'terminated') {
    let leaverReason: string;
    if (removal !== null) leaverReason = removal.by;
    else if (timeDriven || attributes.status !== 'terminated') leaverReason = 'termination-date-reached';
    else leaverReason = 'terminated-in-source';
    const effectiveAt = removal !== null ? removal.at : term !== undefined && term <= now ? term : now;
    event = { kind: 'LEAVER', stage: 'EFFECTIVE', effectiveAt, reason: leaverReason };
    startKind = null;
  } else if (prev.phase === 'pre-hire' && phase === 'active') {
    event = { kind: prev.startKind ?? 'JOINER', stage: 'EFFECTIVE', effectiveAt: startedAt, reason: timeDriven ? 'start-date-reached' : reason };
    startKind = null;
  } else if (changed.length > 0) {
    event = { kind: kindOfChange(changed, policy), stage: phase === 'pre-hire' ? 'PRE_HIRE' : 'EFFECTIVE', effectiveAt: now, reason };
    if (phase === 'pre-hire' && prev.phase === 'active') startKind = 'JOINER';
  }

  const next: PersonState = {
    ...base,
    attributes,
    managerWorkerId,
    phase,
    startKind,
    joined,
    removal,
    sourceTimestamp: base.sourceTimestamp,
    sequence: base.sequence,
  };
  const modified = !prev || !sameState(prev, next);
  if (modified && change.type === 'record') {
    // Stale protection compares against the source time of the last change applied.
    if (change.record.sourceTimestamp !== undefined) next.sourceTimestamp = Math.max(change.record.sourceTimestamp, base.sourceTimestamp ?? -Infinity);
    if (change.record.sequence !== undefined) next.sequence = Math.max(change.record.sequence, base.sequence ?? -Infinity);
  }
  if (modified) next.version = base.version + 1;
  return {
    outcome: !prev ? 'created' : modified ? 'changed' : 'unchanged',
    state: modified ? next : prev,
    write: !prev ? 'insert' : modified ? 'update' : 'none',
    event: event && { ...event, attributes: nextView, previousAttributes: prevView, changedAttributes: changed, timeZone: zone },
    errors: [],
    warnings,
    nextTransitionAt,
  };
}
