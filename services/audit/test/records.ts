import { randomUUID } from 'node:crypto';
import { EventTypes, avroCodec, type LifecycleEvent, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';

/** Realistic records of one person's joiner, as the services write them. */
export function joinerRecords(personId: string, o: { traceId?: string; target?: string; base?: number } = {}) {
  const base = o.base ?? Date.now() - 60_000;
  const traceId = o.traceId ?? randomUUID().replace(/-/g, '');
  const target = o.target ?? 'ldap-main';
  const traceparent = `00-${traceId}-${'1'.repeat(16)}-01`;
  const codec = avroCodec();
  const event: LifecycleEvent = {
    eventId: randomUUID(), kind: 'JOINER', stage: 'EFFECTIVE', personId, effectiveAt: base, recordedAt: base,
    source: { system: 'workday', workerId: `W-${personId.slice(0, 6)}`, sequence: null, sourceTimestamp: null, batchId: null, channel: 'API' },
    attributes: {
      workerType: 'employee', status: 'active', userName: 'ada.lovelace', givenName: 'Ada', familyName: 'Lovelace', displayName: 'Ada Lovelace', email: 'ada@example.com',
      employeeNumber: '1001', managerPersonId: null, department: 'R&D', division: null, costCenter: null, company: null, organization: null, location: null, jobTitle: null,
      countryCode: null, hireDate: null, terminationDate: null, onLeave: null, custom: {},
    },
    changedAttributes: [],
    previousAttributes: null,
    reason: null,
    timeZone: null,
  };
  const command = (commandId: string, groups: string[], version: number): ProvisioningCommand => ({
    commandId, personId, target, targetKind: 'ldap', version, state: 'ACTIVE', accountName: 'ada_lovelace', attributes: { givenName: 'Ada', mail: 'ada@example.com' }, groups,
    cause: { lifecycleEventId: event.eventId, lifecycleKind: 'JOINER', policyVersion: 1, reason: 'lifecycle', decisionId: null }, hrEffectiveAt: base, issuedAt: base + 1000,
  });
  const cmd = command(randomUUID(), ['staff'], 1);
  const failedCmd = command(randomUUID(), ['staff', 'admins'], 2);
  const result: ProvisioningResult = {
    resultId: randomUUID(), commandId: cmd.commandId, personId, target, targetKind: 'ldap', version: 1, status: 'APPLIED',
    operations: [{ type: 'CREATE', detail: null }, { type: 'ADD_MEMBERSHIP', detail: 'staff' }], accountRef: 'entry-uuid-ada', error: null, hrEffectiveAt: base, appliedAt: base + 2000,
  };
  const headers = (id: string, type: string, at: number) => ({ ce_specversion: '1.0', ce_id: id, ce_type: type, ce_source: '/provisio/test', ce_subject: personId, ce_time: new Date(at).toISOString(), 'content-type': 'application/avro', traceparent });
  return {
    traceId,
    event,
    command: cmd,
    failedCommand: failedCmd,
    result,
    // ce_time of the event is later than the command's: causal order must not depend on clocks.
    lifecycle: { key: personId, value: codec.encode('LifecycleEvent', event), headers: headers(event.eventId, EventTypes.lifecycle('JOINER'), base + 5000) },
    commandMessage: { key: personId, value: codec.encode('ProvisioningCommand', cmd), headers: headers(cmd.commandId, EventTypes.command, base + 1000) },
    resultMessage: { key: personId, value: codec.encode('ProvisioningResult', result), headers: headers(result.resultId, EventTypes.result, base + 2000) },
    deadLetter: (topic: string) => ({
      key: personId,
      value: codec.encode('ProvisioningCommand', failedCmd),
      headers: {
        ...headers(failedCmd.commandId, EventTypes.command, base + 1500),
        'dlt-original-topic': topic, 'dlt-original-partition': '0', 'dlt-original-offset': '7', 'dlt-consumer-group': 'connector-ldap',
        'dlt-error-class': 'ConnectorError', 'dlt-error-code': 'LDAP_SCHEMA_VIOLATION', 'dlt-error-message': 'objectClass violation', 'dlt-attempts': '1', 'dlt-failed-at': new Date(base + 1600).toISOString(),
      },
    }),
  };
}
