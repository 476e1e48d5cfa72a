import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { toOcsf, violationToOcsf, type ResultFacts, type SiemEvent, type ViolationFacts } from '../src/index.js';
import { ocsfValidators } from './ocsf-validator.js';

/**
 * Required attributes of the OCSF 1.3.0 classes the SIEM feed emits, from the OCSF schema (not
 * from the mapper): the `base_event` attributes every class inherits, the `metadata` object's,
 * and each class's own (`finding_info` comes from the `finding` base class of 2003). Objects
 * used inside: `finding_info` needs `uid`, `compliance` needs `standards`.
 */
const BASE_REQUIRED = ['activity_id', 'category_uid', 'class_uid', 'metadata', 'severity_id', 'time', 'type_uid'] as const;
const METADATA_REQUIRED = ['product', 'version'] as const;
const CLASS_REQUIRED: Record<number, { category: number; required: readonly string[]; objects?: Record<string, readonly string[]> }> = {
  3001: { category: 3, required: ['user'] }, // Account Change
  3005: { category: 3, required: ['user'] }, // User Access Management
  3006: { category: 3, required: ['group'] }, // Group Management
  2003: { category: 2, required: ['finding_info', 'compliance'], objects: { finding_info: ['uid'], compliance: ['standards'] } }, // Compliance Finding
};

const validators = ocsfValidators();
const options = { productVersion: '0.1.0', privilegeTargetKinds: new Set(['postgres']) };

/** The required attributes `e` lacks (null counts as missing), as paths. */
function missingRequired(e: SiemEvent): string[] {
  const o = e as unknown as Record<string, unknown>;
  const has = (x: Record<string, unknown> | undefined, k: string) => x !== undefined && x[k] !== undefined && x[k] !== null;
  const spec = CLASS_REQUIRED[e.class_uid];
  if (!spec) return [`class ${e.class_uid} has no required-attribute entry`];
  const missing = [...BASE_REQUIRED, ...spec.required].filter((k) => !has(o, k));
  const metadata = o['metadata'] as Record<string, unknown> | undefined;
  missing.push(...METADATA_REQUIRED.filter((k) => !has(metadata, k)).map((k) => `metadata.${k}`));
  for (const [object, keys] of Object.entries(spec.objects ?? {})) {
    const value = o[object] as Record<string, unknown> | undefined;
    missing.push(...keys.filter((k) => !has(value, k)).map((k) => `${object}.${k}`));
  }
  return missing;
}

/** What the feed checks of every event it emits: required attributes, the class schema, the derived ids. */
function problems(e: SiemEvent): string[] {
  const out = missingRequired(e).map((m) => `missing ${m}`);
  const validate = validators[e.class_uid];
  if (!validate) out.push(`no schema for class ${e.class_uid}`);
  else if (!validate(e)) out.push(...(validate.errors ?? []).map((x) => `${x.instancePath || '/'} ${x.message ?? ''}`));
  if (e.type_uid !== e.class_uid * 100 + e.activity_id) out.push(`type_uid ${e.type_uid} is not class_uid * 100 + activity_id`);
  if (e.category_uid !== CLASS_REQUIRED[e.class_uid]?.category) out.push(`category_uid ${e.category_uid} is not the class's category`);
  return out;
}

const text = fc.string({ minLength: 1, maxLength: 12 });
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const operation = fc.record({
  // What connectors report, and operation types this mapper has never heard of.
  type: fc.oneof(fc.constantFrom('CREATE', 'ENABLE', 'DISABLE', 'DELETE', 'UPDATE', 'RENAME', 'ADD_MEMBERSHIP', 'REMOVE_MEMBERSHIP', 'PROVISION'), text),
  detail: nullable(text),
});
const result: fc.Arbitrary<ResultFacts> = fc.record({
  resultId: fc.uuid(),
  commandId: fc.uuid(),
  personId: fc.uuid(),
  target: text,
  targetKind: fc.oneof(fc.constantFrom('ldap', 'postgres', 'scim'), text),
  version: fc.integer({ min: 1, max: 1000 }),
  status: fc.oneof(fc.constantFrom('APPLIED', 'FAILED', 'NO_CHANGE', 'SKIPPED_STALE'), text),
  operations: fc.array(operation, { maxLength: 5 }),
  accountRef: nullable(text),
  error: nullable(fc.record({ code: text, message: text, retriable: fc.boolean() })),
  appliedAt: fc.integer({ min: 0, max: 4_000_000_000_000 }),
});
const violation: fc.Arbitrary<ViolationFacts> = fc.record({
  violationId: fc.uuid(),
  personId: fc.uuid(),
  ruleId: text,
  policyVersion: fc.integer({ min: 1, max: 1000 }),
  mode: fc.constantFrom('FLAG', 'PREVENT'),
  status: fc.oneof(fc.constantFrom('FLAGGED', 'PREVENTED', 'EXCEPTED', 'RESOLVED'), text),
  conflicting: fc.array(text, { maxLength: 4 }),
  dropped: fc.array(text, { maxLength: 3 }),
  exceptionId: nullable(text),
  detectedAt: fc.integer({ min: 0, max: 4_000_000_000_000 }),
});
const source = { seq: fc.integer({ min: 1, max: 1e9 }), recordedAt: fc.integer({ min: 0, max: 4_000_000_000_000 }), traceId: nullable(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 })) };

describe('every OCSF event the SIEM feed emits has the required attributes of its class (OCSF 1.3.0)', () => {
  it('results of any status, operation, target kind and what is known of the account', () => {
    const classes = new Set<number>();
    fc.assert(
      fc.property(fc.record({ ...source, accountName: nullable(text), result }), (src) => {
        for (const e of toOcsf(src, options)) {
          classes.add(e.class_uid);
          expect({ class: e.class_uid, problems: problems(e) }).toEqual({ class: e.class_uid, problems: [] });
        }
      }),
      { numRuns: 500 },
    );
    // The runs reached every class the mapper has for results.
    expect([...classes].sort()).toEqual([3001, 3005, 3006]);
  });

  it('policy violations of any status', () => {
    fc.assert(
      fc.property(fc.record({ ...source, violation }), (src) => {
        for (const e of violationToOcsf(src, options)) expect({ class: e.class_uid, problems: problems(e) }).toEqual({ class: e.class_uid, problems: [] });
      }),
      { numRuns: 200 },
    );
  });

  it('operation types and violation statuses named like Object.prototype members are unknown ones, not its functions', () => {
    const base = { seq: 1, recordedAt: 1, traceId: null };
    const names = ['constructor', 'valueOf', 'toString', 'hasOwnProperty', '__proto__'];
    const events = toOcsf({ ...base, accountName: 'a', result: { resultId: 'r', commandId: 'c', personId: 'p', target: 't', targetKind: 'ldap', version: 1, status: 'APPLIED', operations: names.map((type) => ({ type, detail: null })), accountRef: null, error: null, appliedAt: 1 } }, options);
    expect(events.map((e) => [e.activity_id, e.activity_name, e.message])).toEqual(names.map((n) => [99, n, 'account a provisioned on t']));
    for (const e of events) expect(problems(e)).toEqual([]);
    for (const status of names) expect(violationToOcsf({ ...base, violation: { violationId: 'v', personId: 'p', ruleId: 'r', policyVersion: 1, mode: 'FLAG', status, conflicting: [], dropped: [], exceptionId: null, detectedAt: 1 } }, options)).toEqual([]);
  });

  it('the check and the class schemas refuse an event without any one required attribute', () => {
    const base = { seq: 1, recordedAt: 1, traceId: null };
    const events: SiemEvent[] = [
      ...toOcsf({ ...base, accountName: 'a', result: { resultId: 'r', commandId: 'c', personId: 'p', target: 't', targetKind: 'ldap', version: 1, status: 'APPLIED', operations: [{ type: 'CREATE', detail: null }, { type: 'ADD_MEMBERSHIP', detail: 'g' }], accountRef: null, error: null, appliedAt: 1 } }, options),
      ...toOcsf({ ...base, accountName: 'a', result: { resultId: 'r', commandId: 'c', personId: 'p', target: 't', targetKind: 'postgres', version: 1, status: 'APPLIED', operations: [{ type: 'ADD_MEMBERSHIP', detail: 'g' }], accountRef: null, error: null, appliedAt: 1 } }, options),
      ...violationToOcsf({ ...base, violation: { violationId: 'v', personId: 'p', ruleId: 'r', policyVersion: 1, mode: 'FLAG', status: 'FLAGGED', conflicting: ['a', 'b'], dropped: [], exceptionId: null, detectedAt: 1 } }, options),
    ];
    expect(events.map((e) => e.class_uid).sort()).toEqual([2003, 3001, 3005, 3006]);
    for (const e of events) {
      expect(problems(e)).toEqual([]);
      const spec = CLASS_REQUIRED[e.class_uid]!;
      const variants: [string, unknown][] = [
        ...[...BASE_REQUIRED, ...spec.required].map((k): [string, unknown] => [k, { ...e, [k]: undefined }]),
        ...METADATA_REQUIRED.map((k): [string, unknown] => [`metadata.${k}`, { ...e, metadata: { ...e.metadata, [k]: undefined } }]),
        ...Object.entries(spec.objects ?? {}).flatMap(([object, keys]) =>
          keys.map((k): [string, unknown] => [`${object}.${k}`, { ...e, [object]: { ...(e as unknown as Record<string, object>)[object], [k]: undefined } }]),
        ),
      ];
      for (const [what, without] of variants) {
        // JSON, as the feed sends it: an undefined member is absent.
        const sent = JSON.parse(JSON.stringify(without)) as SiemEvent;
        expect({ class: e.class_uid, what, missing: missingRequired(sent).length > 0, schemaAccepts: validators[e.class_uid]!(sent) }).toEqual({ class: e.class_uid, what, missing: true, schemaAccepts: false });
      }
    }
  });
});
