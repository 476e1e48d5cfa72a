import { describe, expect, it } from '@jest/globals';
import { formatSiemEvent, toCef, toEcs, toOcsf, violationToOcsf, type ResultFacts, type SiemEvent, type ViolationFacts } from '../src/index.js';
import { ocsfValidators } from './ocsf-validator.js';

const validators = ocsfValidators();
const options = { productVersion: '0.1.0', privilegeTargetKinds: new Set(['postgres']) };

function result(over: Partial<ResultFacts> = {}): ResultFacts {
  return {
    resultId: 'res-1', commandId: 'cmd-1', personId: 'p-1', target: 'ldap-main', targetKind: 'ldap', version: 3, status: 'APPLIED',
    operations: [{ type: 'CREATE', detail: null }], accountRef: 'entry-uuid-1', error: null, appliedAt: 1_760_000_000_000, ...over,
  };
}

function expectValid(e: SiemEvent): void {
  const validate = validators[e.class_uid]!;
  const ok = validate(e);
  expect({ class: e.class_uid, errors: validate.errors ?? null }).toEqual({ class: e.class_uid, errors: null });
  expect(ok).toBe(true);
  expect(e.type_uid).toBe(e.class_uid * 100 + e.activity_id);
}

describe('OCSF mapping', () => {
  it('maps account operations to Account Change (3001) with the right activities, valid against the class schema', () => {
    const ops = ['CREATE', 'ENABLE', 'DISABLE', 'DELETE', 'UPDATE', 'RENAME'].map((type) => ({ type, detail: null }));
    const events = toOcsf({ seq: 42, recordedAt: 1_760_000_000_100, traceId: 'f'.repeat(32), accountName: 'ada_lovelace', result: result({ operations: ops }) }, options);
    expect(events.map((e) => [e.class_uid, e.activity_id, e.activity_name])).toEqual([
      [3001, 1, 'Create'], [3001, 2, 'Enable'], [3001, 5, 'Disable'], [3001, 6, 'Delete'], [3001, 99, 'Update'], [3001, 99, 'Rename'],
    ]);
    for (const e of events) expectValid(e);
    expect(events[0]).toMatchObject({ user: { name: 'ada_lovelace', uid: 'entry-uuid-1', uid_alt: 'p-1' }, metadata: { correlation_uid: 'f'.repeat(32), version: '1.3.0' }, status_id: 1 });
  });

  it('maps memberships to Group Management (3006), or User Access Management (3005) for privilege targets', () => {
    const ops = [{ type: 'ADD_MEMBERSHIP', detail: 'staff' }, { type: 'REMOVE_MEMBERSHIP', detail: 'admins' }];
    const groups = toOcsf({ seq: 1, recordedAt: 1, traceId: null, accountName: null, result: result({ operations: ops }) }, options);
    expect(groups.map((e) => [e.class_uid, e.activity_id, e.group?.name])).toEqual([[3006, 3, 'staff'], [3006, 4, 'admins']]);
    const privileges = toOcsf({ seq: 1, recordedAt: 1, traceId: null, accountName: 'ada', result: result({ targetKind: 'postgres', target: 'pg-main', operations: ops }) }, options);
    expect(privileges.map((e) => [e.class_uid, e.activity_id, e.privileges])).toEqual([[3005, 1, ['staff']], [3005, 2, ['admins']]]);
    for (const e of [...groups, ...privileges]) expectValid(e);
  });

  it('reports failures as status Failure and emits nothing for results that changed nothing', () => {
    const failed = toOcsf({ seq: 1, recordedAt: 1, traceId: null, accountName: null, result: result({ status: 'FAILED', operations: [], error: { code: 'LDAP_UNAVAILABLE', message: 'down', retriable: true } }) }, options);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ class_uid: 3001, activity_id: 99, status_id: 2, status: 'Failure', status_code: 'LDAP_UNAVAILABLE' });
    expectValid(failed[0]!);
    for (const status of ['NO_CHANGE', 'SKIPPED_STALE', 'NOT_IMPLEMENTED']) expect(toOcsf({ seq: 1, recordedAt: 1, traceId: null, accountName: null, result: result({ status }) }, options)).toEqual([]);
  });

  it('gives stable ids: the same result maps to the same metadata.uid, different operations to different ones', () => {
    const src = { seq: 7, recordedAt: 1, traceId: null, accountName: null, result: result({ operations: [{ type: 'CREATE', detail: null }, { type: 'ADD_MEMBERSHIP', detail: 'g' }] }) };
    const a = toOcsf(src, options).map((e) => e.metadata.uid);
    const b = toOcsf(src, options).map((e) => e.metadata.uid);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(2);
    expect(a[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('the schema fixtures reject events with attributes OCSF does not define or without required ones', () => {
    const [e] = toOcsf({ seq: 1, recordedAt: 1, traceId: null, accountName: 'x', result: result() }, options);
    expect(validators[3001]!({ ...e, invented_field: 1 })).toBe(false);
    const { user: _user, ...withoutUser } = e!;
    expect(validators[3001]!(withoutUser)).toBe(false);
    expect(validators[3001]!({ ...e, metadata: { ...e!.metadata, product: undefined } })).toBe(false);
  });
});

describe('CEF and ECS formatters', () => {
  const [e] = toOcsf({ seq: 9, recordedAt: 1_760_000_000_100, traceId: 'a'.repeat(32), accountName: 'o=x|y\\z', result: result({ operations: [{ type: 'ADD_MEMBERSHIP', detail: 'ops=admins' }] }) }, options);

  it('writes CEF:0 with escaped header and extension values', () => {
    const cef = toCef(e!);
    expect(cef.startsWith('CEF:0|Provisio|Provisio|0.1.0|300603|Group Management: Add User|1|')).toBe(true);
    expect(cef).toContain('duser=o\\=x|y\\\\z');
    expect(cef).toContain('cs2Label=entitlement cs2=ops\\=admins');
    expect(cef).toContain(`cs1Label=traceId cs1=${'a'.repeat(32)}`);
    expect(cef).not.toContain('cs4Label'); // no status code, no label
    expect(cef.split('\n')).toHaveLength(1);
  });

  it('writes ECS with event categorization and the trace id', () => {
    const ecs = toEcs(e!);
    expect(ecs).toMatchObject({
      event: { kind: 'event', category: ['iam'], type: ['group', 'change'], action: 'add-user', outcome: 'success', id: e!.metadata.uid },
      user: { target: { name: 'o=x|y\\z', group: { name: 'ops=admins' } } },
      trace: { id: 'a'.repeat(32) },
    });
    expect(JSON.parse(formatSiemEvent(e!, 'ecs'))).toEqual(ecs);
    expect(JSON.parse(formatSiemEvent(e!, 'ocsf'))).toEqual(e);
  });

  describe('policy violations as Compliance Finding (2003)', () => {
    const violation = (status: string, over: Partial<ViolationFacts> = {}): ViolationFacts => ({
      violationId: `v-${status}`, personId: 'p-1', ruleId: 'sod-payments', policyVersion: 7, mode: status === 'PREVENTED' ? 'PREVENT' : 'FLAG', status,
      conflicting: ['role:payment-approver', 'ldap-main:group:payment-creators'], dropped: status === 'PREVENTED' ? ['ldap-main:group:payment-creators'] : [],
      exceptionId: status === 'EXCEPTED' ? 'exc-9' : null, detectedAt: 1_760_000_000_000, ...over,
    });

    it('follows one finding per person and rule from Create to Close, valid against the class schema', () => {
      const events = ['FLAGGED', 'PREVENTED', 'EXCEPTED', 'RESOLVED'].flatMap((s) => violationToOcsf({ seq: 5, recordedAt: 1_760_000_000_100, traceId: 'a'.repeat(32), violation: violation(s) }, options));
      expect(events.map((e) => [e.class_uid, e.activity_name, e.status, e.compliance.status])).toEqual([
        [2003, 'Create', 'New', 'Fail'],
        [2003, 'Create', 'New', 'Pass'],
        [2003, 'Update', 'Suppressed', 'Fail'],
        [2003, 'Close', 'Resolved', 'Pass'],
      ]);
      for (const e of events) expectValid(e);
      expect(new Set(events.map((e) => e.finding_info.uid)).size).toBe(1);
      expect(new Set(events.map((e) => e.metadata.uid)).size).toBe(4);
      expect(events[0]).toMatchObject({ category_uid: 2, compliance: { control: 'sod-payments', standards: ['Provisio policy v7'] }, metadata: { correlation_uid: 'a'.repeat(32) }, resources: [{ uid: 'p-1' }] });
      expect(events[1]!.compliance.status_detail).toContain('dropped: ldap-main:group:payment-creators');
      expect(violationToOcsf({ seq: 1, recordedAt: 1, traceId: null, violation: violation('SOMETHING_NEW') }, options)).toEqual([]);
    });

    it('the validator rejects what OCSF does not have (a user on a finding, a finding without compliance)', () => {
      const [e] = violationToOcsf({ seq: 1, recordedAt: 1, traceId: null, violation: violation('FLAGGED') }, options);
      const validate = validators[2003]!;
      expect(validate({ ...e, user: { uid: 'p-1' } })).toBe(false);
      const { compliance: _c, ...without } = e!;
      expect(validate(without)).toBe(false);
    });

    it('formats findings as CEF and ECS too', () => {
      const [e] = violationToOcsf({ seq: 1, recordedAt: 1, traceId: 'b'.repeat(32), violation: violation('FLAGGED') }, options);
      expect(formatSiemEvent(e!, 'cef')).toMatch(/^CEF:0\|Provisio\|Provisio\|0\.1\.0\|200301\|Compliance Finding: Create\|5\|.*cs2Label=rule cs2=sod-payments cs3Label=personId cs3=p-1/);
      expect(JSON.parse(formatSiemEvent(e!, 'ecs'))).toMatchObject({ event: { kind: 'alert', outcome: 'failure', id: e!.metadata.uid }, rule: { id: 'sod-payments' }, trace: { id: 'b'.repeat(32) } });
      expect(JSON.parse(formatSiemEvent(e!, 'ocsf'))).toEqual(e);
    });
  });
});
