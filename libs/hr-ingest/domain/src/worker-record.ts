import type { HrAttributes } from '@provisio/contracts';

/** HR attributes as an input carries them: absent means "not sent", never "cleared". */
export type HrAttributesInput = Partial<Omit<HrAttributes, 'custom'>> & { custom?: Record<string, string> };

/** One worker as any HR input (API, SCIM, webhook, CSV) describes it, normalized. */
export interface WorkerRecord {
  source: string;
  workerId: string;
  attributes: HrAttributesInput;
  sourceTimestamp?: number | undefined;
  sequence?: number | undefined;
}

/** What hr-ingest stores about a person. */
export interface PersonState {
  personId: string;
  source: string;
  workerId: string;
  attributes: HrAttributes;
  version: number;
}

export const EMPTY_ATTRIBUTES: HrAttributes = {
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
  custom: {},
};
