// The example policy the Kubernetes base ships (ConfigMap provisio-policy-files, mounted into the
// policy service at MOUNTS.policy; POLICY_PATH names that folder). Its targets are exactly the
// connectors' example targets in model.ts, so a command always reaches a connector that serves
// it; a test loads it with the policy loader. A site replaces the whole ConfigMap with its own
// policy files in an overlay (docs/deployment.md), like it replaces the connectors' targets.
import { CONNECTOR_TARGETS, POSTGRES_TARGET_ID } from './model.ts';

const targetId = (service: keyof typeof CONNECTOR_TARGETS) => (CONNECTOR_TARGETS[service][0] as { id: string }).id;
const LDAP = targetId('connector-ldap');
const SCIM = targetId('connector-scim');
const POSTGRES = POSTGRES_TARGET_ID;
const group = (cn: string) => `cn=${cn},ou=groups,dc=example,dc=com`;

export const EXAMPLE_POLICY = {
  apiVersion: 'provisio.dev/v1',
  kind: 'Policy',
  metadata: { name: 'kubernetes-example', description: 'Example policy for the Kubernetes example targets (model.ts): replace it in your site overlay.' },
  lifecycle: {
    preHire: { leadTime: '7d' },
    mover: { gracePeriod: '7d' },
    conversion: { gracePeriod: '0d' },
    leaver: { removeMemberships: true, retention: '90d', revokeManualAssignments: true },
    leaveOfAbsence: { action: 'suspend' },
    unentitled: { action: 'disable', retention: '30d' },
  },
  targets: [
    {
      id: POSTGRES,
      kind: 'postgres',
      description: 'Login roles on the analytics database',
      scope: { attribute: 'userName', exists: true },
      account: {
        name: {
          // ada.lovelace@example.com → ada_lovelace (PostgreSQL identifiers: [a-z0-9_], 63 bytes)
          value:
            "default(regexReplace(regexReplace(regexReplace(lower(stripDiacritics(userName)), '@.*$', ''), '[^a-z0-9_]+', '_'), '^_+|_+$', ''), concat('p_', substring(regexReplace(personId, '-', ''), 0, 16)))",
          unique: { namespace: 'postgres-role', maxLength: 63, reserved: ['postgres', 'pg_monitor', 'provisio'] },
        },
      },
    },
    {
      id: LDAP,
      kind: 'ldap',
      description: 'Corporate directory',
      scope: { attribute: 'workerType', in: ['employee', 'contractor'], ignoreCase: true },
      account: {
        name: {
          value: "lower(regexReplace(stripDiacritics(concat(substring(givenName, 0, 1), familyName)), '[^A-Za-z0-9]', ''))",
          unique: { namespace: 'corp-uid', maxLength: 20, reserved: ['admin', 'root'] },
        },
      },
      attributes: {
        cn: "join(' ', givenName, familyName)",
        sn: "default(familyName, 'unknown')",
        givenName: 'givenName',
        displayName: "default(displayName, join(' ', givenName, familyName))",
        mail: "default(email, concat(accountName, '@example.com'))",
        title: 'jobTitle',
        departmentNumber: 'department',
        employeeNumber: 'employeeNumber',
        employeeType: 'lower(workerType)',
      },
    },
    {
      id: SCIM,
      kind: 'scim',
      description: 'SaaS application (SCIM 2.0)',
      scope: { all: [{ attribute: 'workerType', equals: 'employee', ignoreCase: true }, { attribute: 'email', exists: true }] },
      lifecycle: { preHire: { leadTime: '0d' } },
      account: { name: 'lower(email)' },
      attributes: {
        givenName: 'givenName',
        familyName: 'familyName',
        displayName: "default(displayName, join(' ', givenName, familyName))",
        title: 'jobTitle',
        department: 'department',
        employeeNumber: 'employeeNumber',
      },
    },
  ],
  roles: [
    { id: 'staff', description: 'Everyone who works here', entitlements: { [POSTGRES]: {}, [LDAP]: { groups: [group('staff')] }, [SCIM]: { groups: ['Everyone'] } } },
    { id: 'employee', includes: ['staff'], entitlements: { [LDAP]: { groups: [group('employees')] } } },
    { id: 'contractor', includes: ['staff'], entitlements: { [LDAP]: { groups: [group('contractors')] } } },
  ],
  birthright: [
    { id: 'everyone', description: 'Everyone with a user name is staff', when: { attribute: 'userName', exists: true }, grant: ['staff'] },
    { id: 'employees', when: { attribute: 'workerType', equals: 'employee', ignoreCase: true }, grant: ['employee'] },
    { id: 'contractors', when: { attribute: 'workerType', equals: 'contractor', ignoreCase: true }, grant: ['contractor'] },
  ],
};
