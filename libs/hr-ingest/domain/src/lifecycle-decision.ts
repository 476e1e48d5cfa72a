import type { HrAttributes, LifecycleKind, LifecycleStage } from '@provisio/contracts';
import { hrInstant } from './dates.js';
import { fieldError, type FieldError } from './field-error.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';
import { zoneFor } from './time-zones.js';
import { hasStamp, newerThan, newest, olderBy, type Stamp } from './stamps.js';
import { HR_FIELDS, type WorkerRecord } from './worker-input.js';
import { ATTRIBUTE_NAMES, EMPTY_ATTRIBUTES, type PersonState, type Phase, type Removal } from './worker-record.js';

/** What happened to a worker. */
export type Change =
  /** An input (delta, or one row of a snapshot): attributes it carries overwrite, absent ones stay. */
  | { type: 'record'; record: WorkerRecord }
  /**
   * Missing from a full snapshot (when absent workers count as leavers) exported at `asOf`
   * (epoch ms, when known): no leaver if a newer record saw the person, and the leaver is dated
   * by the export.
   */
  | { type: 'absent'; asOf?: number | undefined }
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
  /**
   * This decision ends the person's work: now (a LEAVER) or at a future instant (a termination
   * newly ahead for someone working). What the mass-change brake counts.
   */
  leaving: { at: number; reason: string } | undefined;
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

function recordStamp(r: WorkerRecord): Stamp {
  return { ts: r.sourceTimestamp ?? null, seq: r.sequence ?? null };
}

interface Superseded {
  field: string;
  by: 'sequence' | 'sourceTimestamp';
  stamp: Stamp;
}

interface Merged {
  attributes: HrAttributes;
  managerWorkerId: string | null;
  stamps: Record<string, Stamp>;
  /** Attributes the record carried and that were taken (changed or not). */
  taken: number;
  /** Attributes the record carried that a newer record had set: kept as stored. */
  superseded: Superseded[];
}

/**
 * Per-attribute merge: each attribute the record carries is taken unless the stored value came
 * from a newer record (its stamp); a taken attribute gets `stamp` (the record's own, or for a
 * record without one the person's watermark: unordered input counts as the newest).
 */
function merge(base: PersonState, r: WorkerRecord, stamp: Stamp): Merged {
  const own = recordStamp(r);
  const attributes: HrAttributes = { ...base.attributes, custom: { ...base.attributes.custom } };
  const target = attributes as unknown as Record<string, unknown>;
  const stamps: Record<string, Stamp> = { ...base.stamps };
  let managerWorkerId = base.managerWorkerId;
  const superseded: Superseded[] = [];
  let taken = 0;
  const take = (key: string, set: () => void) => {
    const stored = stamps[key];
    const by = olderBy(own, stored);
    if (by && stored) {
      superseded.push({ field: key, by, stamp: stored });
      return;
    }
    set();
    taken++;
    if (hasStamp(stamp)) stamps[key] = stamp;
    else delete stamps[key];
  };
  for (const k of HR_FIELDS) {
    const v = r.attributes[k];
    if (v !== undefined) take(k, () => (target[k] = v));
  }
  for (const [k, v] of Object.entries(r.attributes.custom ?? {})) {
    take(`custom.${k}`, () => {
      if (v === null) delete attributes.custom[k];
      else attributes.custom[k] = v;
    });
  }
  if (r.managerWorkerId !== undefined) take('managerWorkerId', () => (managerWorkerId = r.managerWorkerId ?? null));
  return { attributes, managerWorkerId, stamps, taken, superseded };
}

function stampValue(r: WorkerRecord, by: Superseded['by']): string | number | undefined {
  return by === 'sequence' ? r.sequence : r.sourceTimestamp === undefined ? undefined : new Date(r.sourceTimestamp).toISOString();
}

function describeStamp(s: Stamp, by: Superseded['by']): string {
  return by === 'sequence' ? `sequence ${s.seq}` : `source time ${new Date(s.ts ?? 0).toISOString()}`;
}

/** The whole record is older than what is stored for every attribute it carries. */
function staleError(r: WorkerRecord, superseded: readonly Superseded[]): FieldError {
  const first = superseded[0]!;
  const fields = superseded.map((x) => x.field).join(', ');
  const what = first.by === 'sequence' ? `sequence ${r.sequence} is lower than` : 'source timestamp is older than';
  return fieldError(first.by, stampValue(r, first.by), 'not-older-than-stored', `${what} the change that set ${fields} (${describeStamp(first.stamp, first.by)}); newer state is kept`);
}

/** One attribute of an otherwise accepted record was set by a newer record and is kept. */
function supersededWarning(r: WorkerRecord, x: Superseded): FieldError {
  return fieldError(x.field, stampValue(r, x.by), 'not-older-than-stored', `${x.field} was set by a newer change (${describeStamp(x.stamp, x.by)}); the stored value is kept`);
}

/**
 * How new the person's termination is: the removal's stamp, or the stamps of the attributes
 * that terminate them (status terminated, the termination date). Null when not known.
 */
function terminationStamp(p: PersonState): Stamp | null {
  if (p.removal) return p.removal.stamp ?? null;
  let s: Stamp | null = null;
  if (p.attributes.status === 'terminated' && p.stamps['status']) s = newest(s, p.stamps['status']);
  if (p.attributes.terminationDate !== null && p.stamps['terminationDate']) s = newest(s, p.stamps['terminationDate']);
  return hasStamp(s) ? s : null;
}

/** A termination that lies ahead for someone not terminated (its instant), if any. */
function pendingEnd(a: HrAttributes, removal: Removal | null, zone: string, now: number): number | undefined {
  if (removal) return undefined;
  const { hire, term } = instantsOf(a, zone);
  if (term === undefined || (hire !== undefined && hire >= term)) return undefined;
  return term > now ? term : undefined;
}

/** When a terminated person left, if known. */
function leftAt(p: PersonState, policy: LifecyclePolicy): number | undefined {
  if (p.removal) return p.removal.at;
  return instantsOf(p.attributes, zoneFor(policy.timeZones, p.attributes.location, p.attributes.countryCode)).term;
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

function sameStamps(a: Record<string, Stamp>, b: Record<string, Stamp>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] !== undefined && a[k]!.ts === b[k].ts && a[k]!.seq === b[k].seq);
}

function refused(prev: PersonState, errors: FieldError[], policy: LifecyclePolicy, now: number): Decision {
  const zone = zoneFor(policy.timeZones, prev.attributes.location, prev.attributes.countryCode);
  return { outcome: 'stale', state: prev, write: 'none', event: undefined, errors, warnings: [], nextTransitionAt: nextTransition(prev.attributes, prev.removal, zone, now), leaving: undefined };
}

/**
 * The differ: given a person's stored state (undefined for a worker never seen) and one change,
 * decides the person's next state and the lifecycle event to emit, if any. Pure; the same
 * change applied twice decides nothing the second time.
 *
 * Out-of-order input: each attribute keeps the stamp of the record that set it, and a record's
 * attribute is taken only if the record is not older than that stamp, so a newer value is never
 * overwritten by an older one whatever the arrival order. A record is refused whole (`stale`)
 * only when every attribute it carries was set by a newer record, or when it is older than the
 * person's termination and would bring them back.
 */
export function decide(prev: PersonState | undefined, change: Change, ctx: DecideContext): Decision {
  const { now, policy } = ctx;
  const warnings: FieldError[] = [];
  if (!prev && change.type !== 'record') {
    return { outcome: 'unchanged', state: undefined, write: 'none', event: undefined, errors: [], warnings, nextTransitionAt: null, leaving: undefined };
  }
  if (prev && change.type === 'absent' && change.asOf !== undefined && prev.sourceTimestamp !== null && prev.sourceTimestamp > change.asOf) {
    // A record newer than the export saw this worker: the snapshot is out of date for them.
    const zone = zoneFor(policy.timeZones, prev.attributes.location, prev.attributes.countryCode);
    return { outcome: 'unchanged', state: prev, write: 'none', event: undefined, errors: [], warnings, nextTransitionAt: nextTransition(prev.attributes, prev.removal, zone, now), leaving: undefined };
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
    stamps: {},
    version: 0,
  };

  let attributes = base.attributes;
  let managerWorkerId = base.managerWorkerId;
  let removal = base.removal;
  let stamps = base.stamps;
  let watermark: Stamp = { ts: base.sourceTimestamp, seq: base.sequence };
  let reason = 'hr-change';
  let own: Stamp | undefined;
  if (change.type === 'record') {
    const r = change.record;
    own = recordStamp(r);
    const m = merge(base, r, hasStamp(own) ? own : watermark);
    if (prev && m.superseded.length > 0 && m.taken === 0) return refused(prev, [staleError(r, m.superseded)], policy, now);
    for (const x of m.superseded) warnings.push(supersededWarning(r, x));
    attributes = m.attributes;
    managerWorkerId = m.managerWorkerId;
    stamps = m.stamps;
    watermark = newest(watermark, own);
    // The source shows the worker again: only a record newer than the removal undoes it.
    if (removal && newerThan(own, removal.stamp)) removal = null;
  } else if (change.type === 'absent' || change.type === 'delete') {
    reason = change.type === 'absent' ? 'absent-from-snapshot' : 'scim-delete';
    if (!removal && base.phase !== 'terminated') {
      const asOf = change.type === 'absent' ? change.asOf : undefined;
      removal = { at: asOf !== undefined ? Math.min(asOf, now) : now, by: reason as Removal['by'], stamp: asOf !== undefined ? { ts: asOf, seq: null } : null };
    }
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
  if (prev && prev.phase === 'terminated' && phase !== 'terminated' && change.type === 'record' && own) {
    // A record older than the termination never brings the person back (it predates it).
    const by = olderBy(own, terminationStamp(prev));
    if (by) {
      return refused(
        prev,
        [fieldError(by, stampValue(change.record, by), 'not-older-than-termination', 'the change is older than the termination stored for this worker and cannot bring them back; newer state is kept')],
        policy,
        now,
      );
    }
  }
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
      let effectiveAt = startedAt;
      if (kind === 'REHIRE' && prev && hire !== undefined && hire <= now) {
        // A return starts at its own hire date, never at the one of the employment that ended.
        const left = leftAt(prev, policy);
        const newStart = left !== undefined ? hire > left : attributes.hireDate !== prev.attributes.hireDate;
        if (!newStart) effectiveAt = now;
      }
      event =
        phase === 'pre-hire'
          ? { kind, stage: 'PRE_HIRE', effectiveAt: hire ?? now, reason }
          : { kind, stage: 'EFFECTIVE', effectiveAt, reason: timeDriven ? 'start-date-reached' : reason };
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

  // What the mass-change brake counts: a leaver now, or a termination newly ahead for someone working.
  let leaving: Decision['leaving'];
  if (event?.kind === 'LEAVER') leaving = { at: event.effectiveAt, reason: event.reason };
  else if (prev && prev.phase !== 'terminated' && phase !== 'terminated') {
    const end = pendingEnd(attributes, removal, zone, now);
    const prevZone = zoneFor(policy.timeZones, prev.attributes.location, prev.attributes.countryCode);
    if (end !== undefined && pendingEnd(prev.attributes, prev.removal, prevZone, now) === undefined) leaving = { at: end, reason: 'termination-scheduled' };
  }

  const next: PersonState = {
    ...base,
    attributes,
    managerWorkerId,
    phase,
    startKind,
    joined,
    removal,
    stamps,
    // The watermark moves with every accepted record, also one that changes nothing.
    sourceTimestamp: watermark.ts,
    sequence: watermark.seq,
  };
  const modified = !prev || !sameState(prev, next);
  const bookkeeping = !!prev && (next.sourceTimestamp !== prev.sourceTimestamp || next.sequence !== prev.sequence || !sameStamps(prev.stamps, next.stamps) || next.removal?.stamp !== prev.removal?.stamp);
  if (modified) next.version = base.version + 1;
  const write = !prev ? 'insert' : modified || bookkeeping ? 'update' : 'none';
  return {
    outcome: !prev ? 'created' : modified ? 'changed' : 'unchanged',
    state: write === 'none' ? prev : next,
    write,
    event: event && { ...event, attributes: nextView, previousAttributes: prevView, changedAttributes: changed, timeZone: zone },
    errors: [],
    warnings,
    nextTransitionAt,
    leaving,
  };
}
