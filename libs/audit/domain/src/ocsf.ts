import { createHash } from 'node:crypto';

/**
 * Maps what connectors did (ProvisioningResult, joined with the command's account name) to OCSF
 * 1.3.0 events of the Identity & Access Management category:
 *   - Account Change (3001): CREATE → Create (1), ENABLE → Enable (2), DISABLE → Disable (5),
 *     DELETE → Delete (6); UPDATE and RENAME → Other (99) with the operation as activity_name.
 *   - Group Management (3006): ADD_MEMBERSHIP → Add User (3), REMOVE_MEMBERSHIP → Remove User (4).
 *   - User Access Management (3005) instead of 3006 for target kinds whose memberships are
 *     privileges (database roles by default): Assign Privileges (1), Revoke Privileges (2).
 * Ids are stable: the same result always gives the same `metadata.uid`, so a SIEM can drop
 * duplicates after a republish.
 */
export const OCSF_VERSION = '1.3.0';

export interface ResultFacts {
  resultId: string;
  commandId: string;
  personId: string;
  target: string;
  targetKind: string;
  version: number;
  status: string;
  operations: { type: string; detail: string | null }[];
  accountRef: string | null;
  error: { code: string; message: string; retriable: boolean } | null;
  appliedAt: number;
}

export interface SiemSource {
  /** Audit position of the result record. */
  seq: number;
  recordedAt: number;
  traceId: string | null;
  result: ResultFacts;
  /** The account name from the command, when its key was readable. */
  accountName: string | null;
}

export interface OcsfOptions {
  productVersion: string;
  /** Target kinds whose memberships are privileges (User Access Management, 3005). */
  privilegeTargetKinds: ReadonlySet<string>;
}

export interface OcsfEvent {
  activity_id: number;
  activity_name: string;
  category_uid: 3;
  category_name: 'Identity & Access Management';
  class_uid: 3001 | 3005 | 3006;
  class_name: string;
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  status_id: number;
  status: string;
  status_code?: string;
  status_detail?: string;
  time: number;
  message: string;
  metadata: {
    version: string;
    uid: string;
    correlation_uid?: string;
    log_name: string;
    logged_time: number;
    product: { name: string; vendor_name: string; version: string; uid: string };
  };
  actor: { app_name: string; app_uid: string };
  user: { uid: string; name?: string; uid_alt: string; type_id: 1; type: 'User' };
  group?: { name: string; uid: string };
  privileges?: string[];
  resource?: { uid: string; name: string; type: string };
  unmapped: Record<string, unknown>;
}

const CLASS_NAMES = { 3001: 'Account Change', 3005: 'User Access Management', 3006: 'Group Management' } as const;

const ACCOUNT_ACTIVITY: Record<string, [number, string]> = {
  CREATE: [1, 'Create'],
  ENABLE: [2, 'Enable'],
  DISABLE: [5, 'Disable'],
  DELETE: [6, 'Delete'],
  UPDATE: [99, 'Update'],
  RENAME: [99, 'Rename'],
};

const VERB: Record<string, string> = {
  CREATE: 'created',
  ENABLE: 'enabled',
  DISABLE: 'disabled',
  DELETE: 'deleted',
  UPDATE: 'updated',
  RENAME: 'renamed',
};

/**
 * The table's entry for a name that comes from a record (an operation type, a violation status):
 * its own members only, so a name like `constructor` or `valueOf` is unknown rather than an
 * Object.prototype function.
 */
function entry<T>(table: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** A UUID-shaped id derived from a name (stable across runs and replicas). */
export function stableUid(name: string): string {
  const h = createHash('sha256').update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8 (custom), RFC 9562
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function toOcsf(src: SiemSource, o: OcsfOptions): OcsfEvent[] {
  const r = src.result;
  if (r.status !== 'APPLIED' && r.status !== 'FAILED') return [];
  const failed = r.status === 'FAILED';
  const ops = r.operations.length > 0 ? r.operations : failed ? [{ type: 'PROVISION', detail: null }] : [];
  const who = src.accountName ?? r.accountRef ?? r.personId;
  return ops.map((op, i) => {
    let classUid: 3001 | 3005 | 3006 = 3001;
    let activity: [number, string];
    let message: string;
    const extra: Partial<OcsfEvent> = {};
    if (op.type === 'ADD_MEMBERSHIP' || op.type === 'REMOVE_MEMBERSHIP') {
      const add = op.type === 'ADD_MEMBERSHIP';
      const entitlement = op.detail ?? '(unnamed)';
      if (o.privilegeTargetKinds.has(r.targetKind)) {
        classUid = 3005;
        activity = add ? [1, 'Assign Privileges'] : [2, 'Revoke Privileges'];
        extra.privileges = [entitlement];
        extra.resource = { uid: r.target, name: r.target, type: r.targetKind };
      } else {
        classUid = 3006;
        activity = add ? [3, 'Add User'] : [4, 'Remove User'];
        extra.group = { name: entitlement, uid: `${r.target}:${entitlement}` };
      }
      message = `${add ? 'granted' : 'revoked'} ${entitlement} ${add ? 'to' : 'from'} ${who} on ${r.target}`;
    } else {
      activity = entry(ACCOUNT_ACTIVITY, op.type) ?? [99, op.type === 'PROVISION' ? 'Provision' : op.type];
      message = `account ${who} ${entry(VERB, op.type) ?? 'provisioned'} on ${r.target}`;
    }
    if (failed) message = `failed: ${message} (${r.error?.code ?? 'error'})`;
    const event: OcsfEvent = {
      activity_id: activity[0],
      activity_name: activity[1],
      category_uid: 3,
      category_name: 'Identity & Access Management',
      class_uid: classUid,
      class_name: CLASS_NAMES[classUid],
      type_uid: classUid * 100 + activity[0],
      type_name: `${CLASS_NAMES[classUid]}: ${activity[0] === 99 ? 'Other' : activity[1]}`,
      severity_id: failed ? 3 : 1,
      severity: failed ? 'Medium' : 'Informational',
      status_id: failed ? 2 : 1,
      status: failed ? 'Failure' : 'Success',
      ...(failed && r.error ? { status_code: r.error.code } : {}),
      time: r.appliedAt,
      message,
      metadata: {
        version: OCSF_VERSION,
        uid: stableUid(`provisio:${r.resultId}:${i}`),
        ...(src.traceId ? { correlation_uid: src.traceId } : {}),
        log_name: 'audit.siem',
        logged_time: src.recordedAt,
        product: { name: 'Provisio', vendor_name: 'Provisio', version: o.productVersion, uid: 'provisio' },
      },
      actor: { app_name: `provisio connector-${r.targetKind}`, app_uid: r.target },
      user: { uid: r.accountRef ?? `${r.target}:${r.personId}`, ...(src.accountName ? { name: src.accountName } : {}), uid_alt: r.personId, type_id: 1, type: 'User' },
      ...extra,
      unmapped: {
        provisio: {
          person_id: r.personId,
          target: r.target,
          target_kind: r.targetKind,
          command_id: r.commandId,
          result_id: r.resultId,
          desired_state_version: r.version,
          operation: op.type,
          audit_position: src.seq,
          ...(src.traceId ? { trace_id: src.traceId } : {}),
        },
      },
    };
    return event;
  });
}

/** A PolicyViolation (segregation of duties) as the policy service publishes it on policy.violations. */
export interface ViolationFacts {
  violationId: string;
  personId: string;
  ruleId: string;
  policyVersion: number;
  mode: string;
  status: string;
  conflicting: string[];
  dropped: string[];
  exceptionId: string | null;
  detectedAt: number;
}

export interface ViolationSource {
  seq: number;
  recordedAt: number;
  traceId: string | null;
  violation: ViolationFacts;
}

/** OCSF Compliance Finding (2003, Findings category), as emitted for policy violations. */
export interface OcsfComplianceFinding {
  activity_id: 1 | 2 | 3;
  activity_name: 'Create' | 'Update' | 'Close';
  category_uid: 2;
  category_name: 'Findings';
  class_uid: 2003;
  class_name: 'Compliance Finding';
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  /** Finding status (triage workflow): New (1), Suppressed (3), Resolved (4). */
  status_id: 1 | 3 | 4;
  status: 'New' | 'Suppressed' | 'Resolved';
  time: number;
  message: string;
  metadata: OcsfEvent['metadata'];
  finding_info: { uid: string; title: string; desc: string; types: string[]; created_time: number };
  compliance: { standards: string[]; control: string; status_id: 1 | 3; status: 'Pass' | 'Fail'; status_detail: string };
  resources: { uid: string; type: string }[];
  unmapped: Record<string, unknown>;
}

/** Everything the SIEM feed emits. */
export type SiemEvent = OcsfEvent | OcsfComplianceFinding;

// status → [activity, finding status, compliance status, severity id, what happened]
const VIOLATION: Record<string, [1 | 2 | 3, 1 | 3 | 4, 1 | 3, number, string]> = {
  FLAGGED: [1, 1, 3, 3, 'conflicting entitlements granted and flagged'],
  PREVENTED: [1, 1, 1, 2, 'conflicting grant prevented'],
  EXCEPTED: [2, 3, 3, 2, 'conflict allowed under an approved exception'],
  RESOLVED: [3, 4, 1, 1, 'conflict resolved'],
};
const ACTIVITY_NAMES = { 1: 'Create', 2: 'Update', 3: 'Close' } as const;
const FINDING_STATUS = { 1: 'New', 3: 'Suppressed', 4: 'Resolved' } as const;
const SEVERITY = ['Unknown', 'Informational', 'Low', 'Medium', 'High'] as const;

/**
 * Maps a segregation-of-duties finding to OCSF Compliance Finding (2003): an evaluation of a
 * person's entitlements against a control (the SoD rule) of a standard (the policy). One finding
 * per person × rule (`finding_info.uid`), so a SIEM follows it from Create (flagged or prevented)
 * through Update (excepted) to Close (resolved). The compliance status is the state of the
 * person's access: Fail while conflicting entitlements are held (flagged, excepted), Pass when
 * prevention dropped the conflicting grant or the conflict is gone. Detection Finding (2004) is
 * for threat detections and would mislabel a policy check.
 */
export function violationToOcsf(src: ViolationSource, o: Pick<OcsfOptions, 'productVersion'>): OcsfComplianceFinding[] {
  const v = src.violation;
  const m = entry(VIOLATION, v.status);
  if (!m) return [];
  const [activity, findingStatus, complianceStatus, severityId, what] = m;
  const detail = [`${what}: ${v.conflicting.join(', ') || '(none listed)'}`, v.dropped.length > 0 ? `dropped: ${v.dropped.join(', ')}` : null, v.exceptionId ? `exception ${v.exceptionId}` : null]
    .filter((x): x is string => x !== null)
    .join('; ');
  return [
    {
      activity_id: activity,
      activity_name: ACTIVITY_NAMES[activity],
      category_uid: 2,
      category_name: 'Findings',
      class_uid: 2003,
      class_name: 'Compliance Finding',
      type_uid: 200300 + activity,
      type_name: `Compliance Finding: ${ACTIVITY_NAMES[activity]}`,
      severity_id: severityId,
      severity: SEVERITY[severityId] ?? 'Unknown',
      status_id: findingStatus,
      status: FINDING_STATUS[findingStatus],
      time: v.detectedAt,
      message: `segregation of duties rule ${v.ruleId} for person ${v.personId}: ${detail}`,
      metadata: {
        version: OCSF_VERSION,
        uid: stableUid(`provisio:violation:${v.violationId}`),
        ...(src.traceId ? { correlation_uid: src.traceId } : {}),
        log_name: 'audit.siem',
        logged_time: src.recordedAt,
        product: { name: 'Provisio', vendor_name: 'Provisio', version: o.productVersion, uid: 'provisio' },
      },
      finding_info: {
        uid: stableUid(`provisio:sod:${v.personId}:${v.ruleId}`),
        title: `Segregation of duties: ${v.ruleId}`,
        desc: detail,
        types: ['Segregation of Duties'],
        created_time: v.detectedAt,
      },
      compliance: {
        standards: [`Provisio policy v${v.policyVersion}`],
        control: v.ruleId,
        status_id: complianceStatus,
        status: complianceStatus === 1 ? 'Pass' : 'Fail',
        status_detail: detail,
      },
      resources: [{ uid: v.personId, type: 'Person' }],
      unmapped: {
        provisio: {
          person_id: v.personId,
          violation_id: v.violationId,
          rule_id: v.ruleId,
          policy_version: v.policyVersion,
          mode: v.mode,
          violation_status: v.status,
          conflicting: v.conflicting,
          dropped: v.dropped,
          ...(v.exceptionId ? { exception_id: v.exceptionId } : {}),
          audit_position: src.seq,
          ...(src.traceId ? { trace_id: src.traceId } : {}),
        },
      },
    },
  ];
}
