import type { HrAttributes, LifecycleKind, LifecycleStage } from '@provisio/contracts';
import { parseDate, UTC, type TimeZone } from './time.js';

/** What the policy engine remembers of one person between events. */
export interface PersonRecord {
  personId: string;
  attributes: HrAttributes;
  /** Start of employment (pre-hire until then). */
  startAt: number | null;
  /** Termination effective time (a leaver from then on). */
  terminatedAt: number | null;
  lastKind: LifecycleKind | null;
  /** recordedAt of the last applied lifecycle event: older ones are replays and change nothing. */
  lastRecordedAt: number | null;
  /** Effective roles after the last evaluation (SoD prevention keeps what a person already had). */
  heldRoles: string[];
}

export type Phase = 'PRE_HIRE' | 'ACTIVE' | 'LEAVE' | 'TERMINATED';

/** The fields of a LifecycleEvent the engine uses. */
export interface LifecycleFacts {
  kind: LifecycleKind;
  stage: LifecycleStage;
  personId: string;
  effectiveAt: number;
  recordedAt: number;
  attributes: HrAttributes;
}

export function newPersonRecord(personId: string, attributes: HrAttributes): PersonRecord {
  return { personId, attributes, startAt: null, terminatedAt: null, lastKind: null, lastRecordedAt: null, heldRoles: [] };
}

/**
 * Applies a lifecycle event to a person's record. Returns undefined for an event older than the
 * last one applied (a replay), which must change nothing. HR dates without an offset (hire date,
 * termination date) are read in `zone`.
 */
export function applyLifecycleEvent(previous: PersonRecord | undefined, e: LifecycleFacts, zone: TimeZone = UTC): PersonRecord | undefined {
  if (previous?.lastRecordedAt != null && e.recordedAt < previous.lastRecordedAt) return undefined;
  const r: PersonRecord = {
    ...(previous ?? newPersonRecord(e.personId, e.attributes)),
    attributes: e.attributes,
    lastKind: e.kind,
    lastRecordedAt: e.recordedAt,
  };
  const status = e.attributes.status;
  switch (e.kind) {
    case 'JOINER':
    case 'REHIRE':
      r.startAt = e.stage === 'PRE_HIRE' ? e.effectiveAt : (startFromAttributes(e.attributes, zone) ?? e.effectiveAt);
      r.terminatedAt = null;
      break;
    case 'LEAVER':
      r.terminatedAt = e.effectiveAt;
      break;
    default:
      // Only a rehire ends a termination; an update of a leaver's facts does not.
      if (status === 'terminated' && r.terminatedAt === null) r.terminatedAt = parseDate(e.attributes.terminationDate, zone) ?? e.effectiveAt;
      if (status === 'pre-hire') r.startAt = startFromAttributes(e.attributes, zone) ?? r.startAt;
  }
  return r;
}

function startFromAttributes(a: HrAttributes, zone: TimeZone): number | undefined {
  return a.status === 'pre-hire' ? parseDate(a.hireDate, zone) : undefined;
}

/** The person's lifecycle phase at `now`, and the next instant it changes by itself. */
export function phaseAt(r: PersonRecord, now: number): { phase: Phase; changesAt: number | null } {
  const status = r.attributes.status;
  if (r.terminatedAt !== null && r.terminatedAt <= now) return { phase: 'TERMINATED', changesAt: null };
  if (status === 'terminated' && r.terminatedAt === null) return { phase: 'TERMINATED', changesAt: null };
  const pending = r.terminatedAt !== null ? r.terminatedAt : null;
  if ((r.startAt !== null && now < r.startAt) || (status === 'pre-hire' && r.startAt === null)) {
    return { phase: 'PRE_HIRE', changesAt: r.startAt ?? pending };
  }
  if (status === 'leave' || r.attributes.onLeave === true) return { phase: 'LEAVE', changesAt: pending };
  return { phase: 'ACTIVE', changesAt: pending };
}
