import type { HrAttributes } from '@provisio/contracts';
import { loadPolicyOrThrow, newPersonRecord, type CompiledPolicy, type EvaluationInput, type PersonRecord } from '../src/index.js';

export const DAY = 86_400_000;
export const NOW = Date.parse('2026-03-02T09:00:00Z');

export function attrs(a: Partial<HrAttributes> = {}): HrAttributes {
  return {
    workerType: 'employee',
    status: 'active',
    userName: 'jdoe@example.com',
    givenName: 'John',
    familyName: 'Doe',
    displayName: null,
    email: 'john.doe@example.com',
    employeeNumber: '1001',
    managerPersonId: null,
    department: 'Sales',
    division: null,
    costCenter: null,
    company: null,
    organization: null,
    location: null,
    jobTitle: 'Account Executive',
    countryCode: 'DE',
    hireDate: '2025-01-01',
    terminationDate: null,
    onLeave: null,
    custom: {},
    ...a,
  };
}

export function person(a: Partial<HrAttributes> = {}, o: Partial<PersonRecord> = {}): PersonRecord {
  return { ...newPersonRecord('p-1', attrs(a)), startAt: Date.parse('2025-01-01T00:00:00Z'), ...o };
}

export function input(p: PersonRecord, o: Partial<EvaluationInput> = {}): EvaluationInput {
  return { person: p, now: NOW, trigger: null, manual: [], exceptions: [], allocations: {}, previous: {}, ...o };
}

export const POLICY_YAML = `
apiVersion: provisio.dev/v1
kind: Policy
metadata: { name: test }
lifecycle:
  preHire: { leadTime: 7d }
  mover: { gracePeriod: 7d }
  leaver: { retention: 30d }
  unentitled: { action: disable, retention: 10d }
targets:
  - id: dir
    kind: ldap
    scope: { attribute: workerType, in: [employee, contractor] }
    account:
      name:
        value: lower(stripDiacritics(concat(substring(givenName, 0, 1), familyName)))
        unique: { namespace: uid, maxLength: 8 }
    attributes:
      cn: join(' ', givenName, familyName)
      mail: concat(accountName, '@example.com')
  - id: db
    kind: postgres
    account: { name: "lower(regexReplace(userName, '@.*$', ''))" }
roles:
  - id: staff
    entitlements: { dir: { groups: [staff] }, db: {} }
  - id: sales
    includes: [staff]
    entitlements: { dir: { groups: [sales] } }
  - id: eng
    includes: [staff]
    entitlements: { dir: { groups: [eng] }, db: { groups: [readonly] } }
  - id: maker
    entitlements: { dir: { groups: [pay-create] } }
  - id: approver
    entitlements: { dir: { groups: [pay-approve] } }
birthright:
  - id: all
    when: { attribute: userName, exists: true }
    grant: [staff]
  - id: sales
    when: { attribute: department, equals: sales, ignoreCase: true }
    grant: [sales]
  - id: eng
    when: { any: [{ attribute: department, equals: Engineering }, { attribute: custom.team, startsWith: eng }] }
    grant: [eng]
  - id: makers
    when: { attribute: jobTitle, equals: Clerk }
    grant: [maker]
  - id: approvers
    when: { attribute: custom.approver, equals: "yes" }
    grant: [approver]
sod:
  - id: maker-checker
    mode: prevent
    sets: [[{ role: maker }], [{ role: approver }]]
`;

export function testPolicy(yaml = POLICY_YAML): CompiledPolicy {
  return loadPolicyOrThrow([{ name: 'test.yaml', content: yaml }]).policy;
}
