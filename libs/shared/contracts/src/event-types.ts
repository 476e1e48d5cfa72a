import type { LifecycleKind } from './generated/types.js';
import type { SchemaName } from './generated/schemas.js';

/** CloudEvents `type` values, reverse-DNS, one per kind of fact. */
export const EventTypes = {
  lifecycle: (kind: LifecycleKind): string => `dev.provisio.lifecycle.${kind.toLowerCase()}`,
  command: 'dev.provisio.provisioning.command',
  result: 'dev.provisio.provisioning.result',
  auditRecord: 'dev.provisio.audit.record',
  policyDecision: 'dev.provisio.policy.decision',
  policyViolation: 'dev.provisio.policy.violation',
  policyChange: 'dev.provisio.policy.change',
  drift: 'dev.provisio.connector.drift',
  reconciliationRun: 'dev.provisio.connector.reconciliation',
} as const;

/** The schema a CloudEvents type's data is written with. */
export function schemaForEventType(type: string): SchemaName | undefined {
  if (type.startsWith('dev.provisio.lifecycle.')) return 'LifecycleEvent';
  if (type === EventTypes.command) return 'ProvisioningCommand';
  if (type === EventTypes.result) return 'ProvisioningResult';
  if (type === EventTypes.auditRecord) return 'AuditRecord';
  if (type === EventTypes.policyDecision) return 'PolicyDecision';
  if (type === EventTypes.policyViolation) return 'PolicyViolation';
  if (type === EventTypes.policyChange) return 'PolicyChange';
  if (type === EventTypes.drift) return 'DriftEvent';
  if (type === EventTypes.reconciliationRun) return 'ReconciliationRun';
  return undefined;
}
