/**
 * JSON Schema (draft-07) of a policy file. Structure only; references between parts
 * (roles, targets, SoD rules), expressions, conditions and durations are checked afterwards by
 * the compiler, with the same error format. Served at GET /v1/policy/schema for editors.
 */
const id = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' };
const description = { type: 'string', maxLength: 2000 };
const duration = {
  type: 'string',
  pattern: '^(\\d{1,9}(ms|s|m|h|d|w)|P(\\d+W)?(\\d+D)?(T(\\d+H)?(\\d+M)?(\\d+S)?)?)$',
  description: '7d, 12h, 30m, 2w or ISO-8601 P7D',
};
const retention = { anyOf: [duration, { const: 'never' }], description: 'a duration, or never' };
const scalar = { type: ['string', 'number', 'boolean'] };

const condition = {
  type: 'object',
  description: 'all / any / not / always, or an attribute with exactly one operator',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    all: { type: 'array', minItems: 1, items: { $ref: '#/definitions/condition' } },
    any: { type: 'array', minItems: 1, items: { $ref: '#/definitions/condition' } },
    not: { $ref: '#/definitions/condition' },
    always: { type: 'boolean' },
    attribute: { type: 'string', minLength: 1 },
    equals: scalar,
    notEquals: scalar,
    in: { type: 'array', minItems: 1, items: { type: ['string', 'number'] } },
    matches: { type: 'string' },
    startsWith: { type: 'string' },
    endsWith: { type: 'string' },
    contains: { type: 'string' },
    exists: { type: 'boolean' },
    before: { type: 'string', description: 'now, -30d / +7d relative to now, or an ISO date' },
    after: { type: 'string', description: 'now, -30d / +7d relative to now, or an ISO date' },
    withinLast: duration,
    withinNext: duration,
    ignoreCase: { type: 'boolean' },
  },
};

const lifecycle = {
  type: 'object',
  additionalProperties: false,
  properties: {
    preHire: { type: 'object', additionalProperties: false, properties: { leadTime: duration } },
    mover: { type: 'object', additionalProperties: false, properties: { gracePeriod: duration } },
    conversion: { type: 'object', additionalProperties: false, properties: { gracePeriod: duration } },
    leaver: {
      type: 'object',
      additionalProperties: false,
      properties: { removeMemberships: { type: 'boolean' }, retention, revokeManualAssignments: { type: 'boolean' } },
    },
    leaveOfAbsence: { type: 'object', additionalProperties: false, properties: { action: { enum: ['suspend', 'suspendAndRemoveMemberships', 'keep'] } } },
    unentitled: { type: 'object', additionalProperties: false, properties: { action: { enum: ['disable', 'delete'] }, retention } },
  },
};

const mapping = {
  anyOf: [
    { type: 'string', minLength: 1 },
    {
      type: 'object',
      additionalProperties: false,
      required: ['value'],
      properties: {
        value: { type: 'string', minLength: 1 },
        unique: {
          type: 'object',
          additionalProperties: false,
          properties: {
            namespace: id,
            maxLength: { type: 'integer', minimum: 1, maximum: 1024 },
            reserved: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  ],
};

const entitlementRef = {
  type: 'object',
  additionalProperties: false,
  properties: { role: id, target: id, group: { type: 'string', minLength: 1 } },
};

export const POLICY_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://provisio.dev/schemas/policy-v1.json',
  title: 'Provisio policy',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind'],
  definitions: { condition },
  properties: {
    apiVersion: { const: 'provisio.dev/v1' },
    kind: { const: 'Policy' },
    metadata: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', maxLength: 200 }, description } },
    lifecycle,
    targets: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'kind', 'account'],
        properties: {
          id,
          kind: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' },
          description,
          scope: { $ref: '#/definitions/condition' },
          lifecycle,
          account: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: mapping } },
          attributes: { type: 'object', propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_.:-]{0,127}$' }, additionalProperties: mapping },
        },
      },
    },
    roles: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id,
          description,
          includes: { type: 'array', items: id, uniqueItems: true },
          entitlements: {
            type: 'object',
            additionalProperties: {
              anyOf: [
                { type: 'null' },
                {
                  type: 'object',
                  additionalProperties: false,
                  properties: { groups: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true } },
                },
              ],
            },
          },
        },
      },
    },
    birthright: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'grant'],
        properties: { id, description, when: { $ref: '#/definitions/condition' }, grant: { type: 'array', minItems: 1, items: id, uniqueItems: true } },
      },
    },
    sod: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'mode', 'sets'],
        properties: {
          id,
          description,
          mode: { enum: ['prevent', 'flag'] },
          sets: { type: 'array', minItems: 2, items: { type: 'array', minItems: 1, items: entitlementRef } },
        },
      },
    },
  },
} as const;
