import type { HrAttributes, LifecycleKind } from '@provisio/contracts';
import type { Stamp } from './stamps.js';

export type { HrAttributesInput, WorkerRecord } from './worker-input.js';

/**
 * Where a person stands in their lifecycle, as last decided (and announced) by hr-ingest:
 * `pre-hire` before the start, `active` from the start (on leave included), `terminated` after
 * the end.
 */
export type Phase = 'pre-hire' | 'active' | 'terminated';

/** A termination hr-ingest inferred rather than read: absent from a full snapshot, or deleted over SCIM. */
export interface Removal {
  at: number;
  by: 'absent-from-snapshot' | 'scim-delete';
  /**
   * How new the removal is by the source's clock (a snapshot's asOf). Only a record newer than
   * this brings the person back; absent (older rows, SCIM deletes) = any later record does.
   */
  stamp?: Stamp | null | undefined;
}

/** What hr-ingest stores about a person: the canonical person record. */
export interface PersonState {
  personId: string;
  source: string;
  workerId: string;
  /** HR attributes as the source gave them (status as sent); managerPersonId resolved. */
  attributes: HrAttributes;
  /** The manager reference as the source gave it (a worker id of the same source). */
  managerWorkerId: string | null;
  phase: Phase;
  /** While in pre-hire: the kind announced again when the start arrives (JOINER or REHIRE). */
  startKind: Extract<LifecycleKind, 'JOINER' | 'REHIRE'> | null;
  /** A JOINER was announced for this person at some point (a later return is a REHIRE). */
  joined: boolean;
  removal: Removal | null;
  /**
   * The person's watermark: the newest source time and sequence of any record accepted for this
   * person (no-ops included). An absence from a snapshot exported before it is no leaver.
   */
  sourceTimestamp: number | null;
  sequence: number | null;
  /**
   * Per attribute (HR field names, `managerWorkerId`, `custom.<key>`): the stamp of the record
   * that last set it. An incoming attribute is applied only if its record is not older than
   * this; attributes set by records without a stamp have none (or the watermark at the time).
   */
  stamps: Record<string, Stamp>;
  version: number;
}

export const EMPTY_ATTRIBUTES: HrAttributes = Object.freeze({
  workerType: null,
  status: null,
  userName: null,
  givenName: null,
  familyName: null,
  displayName: null,
  email: null,
  employeeNumber: null,
  managerPersonId: null,
  department: null,
  division: null,
  costCenter: null,
  company: null,
  organization: null,
  location: null,
  jobTitle: null,
  countryCode: null,
  hireDate: null,
  terminationDate: null,
  onLeave: null,
  custom: Object.freeze({}) as Record<string, string>,
}) as HrAttributes;

/** Attribute names of HrAttributes other than custom, in schema order. */
export const ATTRIBUTE_NAMES = Object.keys(EMPTY_ATTRIBUTES).filter((k) => k !== 'custom') as (keyof Omit<HrAttributes, 'custom'>)[];
