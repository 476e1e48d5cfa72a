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
      activity = ACCOUNT_ACTIVITY[op.type] ?? [99, op.type === 'PROVISION' ? 'Provision' : op.type];
      message = `account ${who} ${VERB[op.type] ?? 'provisioned'} on ${r.target}`;
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
