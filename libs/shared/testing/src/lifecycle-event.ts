import type { LifecycleEvent } from '@provisio/contracts';
import { randomUUID } from 'node:crypto';

/** A lifecycle event with every HR attribute (defaults: an active employee in Sales), as hr-ingest publishes it. */
export function lifecycleEvent(
  personId: string,
  kind: LifecycleEvent['kind'],
  a: Partial<LifecycleEvent['attributes']>,
  at = Date.now(),
  source: Partial<LifecycleEvent['source']> = {},
): LifecycleEvent {
  return {
    eventId: randomUUID(),
    kind,
    stage: 'EFFECTIVE',
    personId,
    effectiveAt: at,
    recordedAt: at,
    source: { system: 'it', workerId: personId, sequence: null, sourceTimestamp: null, batchId: null, channel: 'API', ...source },
    attributes: {
      workerType: 'employee',
      status: 'active',
      userName: null,
      givenName: 'John',
      familyName: 'Doe',
      displayName: null,
      email: null,
      employeeNumber: null,
      managerPersonId: null,
      department: 'Sales',
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
      ...a,
    },
    changedAttributes: [],
    previousAttributes: null,
    reason: null,
    timeZone: null,
  };
}
