import { URN } from './scim-constants.js';

/** An attribute definition of a Schema resource (RFC 7643 §7). */
export interface AttributeDefinition {
  name: string;
  type: 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDefinition[];
}

type Options = Partial<Omit<AttributeDefinition, 'name' | 'type' | 'description'>>;

function attr(name: string, type: AttributeDefinition['type'], description: string, o: Options = {}): AttributeDefinition {
  const def: AttributeDefinition = {
    name,
    type,
    multiValued: o.multiValued ?? false,
    description,
    required: o.required ?? false,
    caseExact: o.caseExact ?? false,
    mutability: o.mutability ?? 'readWrite',
    returned: o.returned ?? 'default',
    uniqueness: o.uniqueness ?? 'none',
  };
  if (o.canonicalValues) def.canonicalValues = o.canonicalValues;
  if (o.referenceTypes) def.referenceTypes = o.referenceTypes;
  if (o.subAttributes) def.subAttributes = o.subAttributes;
  return def;
}

/**
 * The User attributes hr-ingest keeps (a subset of RFC 7643 §4.1; other core attributes are
 * accepted and not kept). `id` is the personId; `externalId` is the worker id in HR.
 */
const USER_ATTRIBUTES: AttributeDefinition[] = [
  attr('userName', 'string', 'Unique identifier for the User, typically the sign-in name. Defaults to externalId when HR has none.', { required: true, uniqueness: 'server' }),
  attr('name', 'complex', "The components of the user's name.", {
    subAttributes: [
      attr('formatted', 'string', 'The full name (given and family name).', { mutability: 'readOnly' }),
      attr('familyName', 'string', 'The family name.'),
      attr('givenName', 'string', 'The given name.'),
    ],
  }),
  attr('displayName', 'string', 'The name of the User, suitable for display.'),
  attr('title', 'string', "The user's job title (canonical attribute jobTitle)."),
  attr('userType', 'string', 'The worker type, e.g. Employee, Contractor (canonical workerType; a change is a CONVERSION).'),
  attr('active', 'boolean', 'Whether the person is not terminated. false sets HR status terminated unless the HR extension says otherwise.'),
  attr('emails', 'complex', 'Email addresses; the primary (else work, else first) one is kept.', {
    multiValued: true,
    subAttributes: [
      attr('value', 'string', 'The email address.'),
      attr('type', 'string', 'work, home or other.', { canonicalValues: ['work', 'home', 'other'] }),
      attr('primary', 'boolean', 'The primary address.'),
    ],
  }),
  attr('addresses', 'complex', 'Physical addresses; of the primary (else work, else first) one the country and locality are kept.', {
    multiValued: true,
    subAttributes: [
      attr('country', 'string', 'ISO 3166-1 alpha-2 country code (canonical countryCode).'),
      attr('locality', 'string', 'City; the location when the HR extension has none.'),
      attr('type', 'string', 'work, home or other.', { canonicalValues: ['work', 'home', 'other'] }),
      attr('primary', 'boolean', 'The primary address.'),
    ],
  }),
];

const COMMON_ATTRIBUTES: AttributeDefinition[] = [
  attr('id', 'string', 'The personId hr-ingest assigned: stable, opaque.', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server' }),
  attr('externalId', 'string', 'The worker id in the HR source (required on create; immutable).', { caseExact: true, mutability: 'immutable', uniqueness: 'server' }),
];

const ENTERPRISE_ATTRIBUTES: AttributeDefinition[] = [
  attr('employeeNumber', 'string', 'Numeric or alphanumeric identifier assigned to a person by the organization.'),
  attr('costCenter', 'string', 'Identifies the name of a cost center.'),
  attr('organization', 'string', 'Identifies the name of an organization.'),
  attr('division', 'string', 'Identifies the name of a division.'),
  attr('department', 'string', 'Identifies the name of a department.'),
  attr('manager', 'complex', "The user's manager: value is the manager's id, or externalId (the manager's worker id), or bulkId:<id> in a bulk request.", {
    subAttributes: [
      attr('value', 'string', "The manager's id or externalId."),
      attr('$ref', 'reference', 'The URI of the manager User.', { referenceTypes: ['User'], mutability: 'readOnly' }),
      attr('displayName', 'string', "The manager's display name.", { mutability: 'readOnly' }),
    ],
  }),
];

const HR_ATTRIBUTES: AttributeDefinition[] = [
  attr('status', 'string', 'HR status; reads back as the lifecycle phase (pre-hire, active, leave, terminated).', { canonicalValues: ['active', 'terminated', 'leave', 'pre-hire'] }),
  attr('hireDate', 'string', 'First day: ISO-8601 date (read in the worker time zone) or date-time. A future date announces a pre-hire.'),
  attr('terminationDate', 'string', 'Last day worked: ISO-8601 date or date-time. A future date schedules the leaver.'),
  attr('onLeave', 'boolean', 'On leave of absence (status leave, not a leaver).'),
  attr('company', 'string', 'Legal entity or company.'),
  attr('location', 'string', 'Site name; may select the time zone.'),
  attr('sourceTimestamp', 'dateTime', 'When HR made this change; an older change than the stored state is refused (409), one later than now + HR_MAX_CLOCK_SKEW too (400 invalidValue, rule not-in-future).', { returned: 'never', mutability: 'writeOnly' }),
  attr('sequence', 'integer', "HR's change sequence; a lower one than stored is refused (409).", { returned: 'never', mutability: 'writeOnly' }),
  attr('managerExternalId', 'string', "The worker id (externalId) of the manager this record names; with managerResolved false that worker is not known yet (the reference is kept and resolved when they arrive).", { mutability: 'readOnly' }),
  attr('managerResolved', 'boolean', 'false while the named manager is not known (no enterprise manager yet); true once resolved. Only present when a manager is named.', { mutability: 'readOnly' }),
  attr('extensionAttributes', 'complex', 'Other HR attributes (name, value).', {
    multiValued: true,
    subAttributes: [attr('name', 'string', 'Attribute name.', { caseExact: true }), attr('value', 'string', 'Attribute value.', { caseExact: true })],
  }),
];

export function schemaResources(base: string): Record<string, unknown>[] {
  const schema = (id: string, name: string, description: string, attributes: AttributeDefinition[]) => ({
    schemas: [URN.schema],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` },
  });
  return [
    schema(URN.user, 'User', 'User Account (the HR attributes hr-ingest keeps)', [...COMMON_ATTRIBUTES, ...USER_ATTRIBUTES]),
    schema(URN.enterprise, 'EnterpriseUser', 'Enterprise User', ENTERPRISE_ATTRIBUTES),
    schema(URN.hr, 'HrWorker', 'HR lifecycle attributes core SCIM lacks (Provisio hr-ingest)', HR_ATTRIBUTES),
  ];
}

export function resourceTypeResources(base: string): Record<string, unknown>[] {
  return [
    {
      schemas: [URN.resourceType],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'A worker from HR; id is the personId, externalId the worker id',
      schema: URN.user,
      schemaExtensions: [
        { schema: URN.enterprise, required: false },
        { schema: URN.hr, required: false },
      ],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
  ];
}

export interface ServiceProviderLimits {
  maxOperations: number;
  maxPayloadSize: number;
  maxResults: number;
  documentationUri?: string;
}

export function serviceProviderConfig(base: string, l: ServiceProviderLimits): Record<string, unknown> {
  return {
    schemas: [URN.serviceProviderConfig],
    ...(l.documentationUri ? { documentationUri: l.documentationUri } : {}),
    patch: { supported: true },
    bulk: { supported: true, maxOperations: l.maxOperations, maxPayloadSize: l.maxPayloadSize },
    filter: { supported: true, maxResults: l.maxResults },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'An OAuth 2.0 access token (JWT) with scope hr:read (reads) or hr:write (changes)',
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}
