import { describe, expect, it } from '@jest/globals';
import { EMPTY_ATTRIBUTES } from '@provisio/hr-ingest-domain';
import { URN, applyPatch, parseBulkRequest, parsePatchRequest, patchedWorker, parseScimFilter, personToScimUser, projectAttributes, scimUserToWorker, type ScimError } from '../src/index.js';

const CSV_URN = 'urn:ietf:params:scim:schemas:extension:csv:1.0:User';
const opts = { attributeMap: new Map([[`${CSV_URN}:hiredate`.toLowerCase(), 'hireDate']]) };

// The user shape Microsoft Entra API-driven inbound provisioning documents for /bulkUpload.
const entraUser = {
  schemas: [URN.user, URN.enterprise, CSV_URN],
  externalId: '701984',
  userName: 'bjensen@example.com',
  name: { formatted: 'Ms. Barbara J Jensen, III', familyName: 'Jensen', givenName: 'Barbara' },
  displayName: 'Babs Jensen',
  nickName: 'Babs',
  emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
  addresses: [{ type: 'work', streetAddress: '234300 Universal City Plaza', locality: 'Hollywood', region: 'CA', postalCode: '91608', country: 'US', primary: true }],
  phoneNumbers: [{ value: '555-555-5555', type: 'work' }],
  userType: 'Employee',
  title: 'Tour Guide',
  preferredLanguage: 'en-US',
  locale: 'en-US',
  timezone: 'America/Los_Angeles',
  active: true,
  [URN.enterprise]: { employeeNumber: '701984', costCenter: '4130', organization: 'Universal Studios', division: 'Theme Park', department: 'Tour Operations', manager: { value: '89607', displayName: 'John Smith' } },
  [CSV_URN]: { HireDate: '2021-05-01T00:00:00-05:00', JobCode: 'TG-1' },
};

function scimError(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (e) {
    return e as ScimError;
  }
  throw new Error('expected a ScimError');
}

describe('SCIM User ↔ canonical person', () => {
  it('reads the Entra inbound provisioning user: core, enterprise, custom namespace (mapped or kept)', () => {
    const w = scimUserToWorker(entraUser, opts);
    expect(w.workerId).toBe('701984');
    expect(w.manager).toBe('89607');
    expect(w.attributes).toEqual({
      userName: 'bjensen@example.com',
      givenName: 'Barbara',
      familyName: 'Jensen',
      displayName: 'Babs Jensen',
      email: 'bjensen@example.com',
      countryCode: 'US',
      location: 'Hollywood',
      workerType: 'Employee',
      jobTitle: 'Tour Guide',
      status: 'active',
      employeeNumber: '701984',
      costCenter: '4130',
      organization: 'Universal Studios',
      division: 'Theme Park',
      department: 'Tour Operations',
      hireDate: '2021-05-01T00:00:00-05:00',
      custom: { [`${CSV_URN}:JobCode`]: 'TG-1' },
    });
  });

  it('matches attribute names case-insensitively, lets the HR extension status win over active, keeps absent attributes absent', () => {
    const w = scimUserToWorker({ SCHEMAS: [URN.user, URN.hr], EXTERNALID: 'W1', Active: false, [URN.hr]: { Status: 'leave', OnLeave: 'True', sequence: 4, sourceTimestamp: '2025-01-01T00:00:00Z' } }, opts);
    expect(w).toMatchObject({ workerId: 'W1', sequence: 4, sourceTimestamp: Date.parse('2025-01-01T00:00:00Z'), manager: undefined });
    expect(w.attributes).toEqual({ status: 'leave', onLeave: true });
    expect(scimUserToWorker({ schemas: [URN.user], externalId: 'W1', active: false }, opts).attributes).toEqual({ status: 'terminated' });
    expect(scimUserToWorker({ schemas: [URN.user], externalId: 'W1', name: null, emails: [] }, opts).attributes).toEqual({ givenName: null, familyName: null, email: null });
  });

  it('refuses unknown schema URNs, undeclared extensions, unknown attributes and bad values, naming each', () => {
    expect(scimError(() => scimUserToWorker({ schemas: [URN.user, 'urn:example:bogus'], externalId: 'W1' }, opts))).toMatchObject({ status: 400, scimType: 'invalidValue', detail: expect.stringContaining('unknown schema URN "urn:example:bogus"') });
    expect(scimError(() => scimUserToWorker({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], externalId: 'W1' }, opts)).scimType).toBe('invalidValue');
    expect(scimError(() => scimUserToWorker({ schemas: [URN.user], externalId: 'W1', [URN.enterprise]: { department: 'X' } }, opts))).toMatchObject({ scimType: 'invalidSyntax' });
    expect(scimError(() => scimUserToWorker({ schemas: [URN.user], externalId: 'W1', shoeSize: 42 }, opts)).detail).toContain('shoeSize');
    const bad = scimError(() => scimUserToWorker({ schemas: [URN.user, URN.hr], externalId: 'W 1', active: 'maybe', [URN.hr]: { hireDate: '2025-02-30', status: 'fired' } }, opts));
    expect(bad.scimType).toBe('invalidValue');
    for (const part of ['externalId', 'active', `${URN.hr}:hireDate`, '"2025-02-30"', `${URN.hr}:status`, '"fired"']) expect(bad.detail).toContain(part);
  });

  it('renders a person as a SCIM User with meta and ETag, and reads its own rendering back to the same attributes', () => {
    const attributes = { ...EMPTY_ATTRIBUTES, userName: 'ada', givenName: 'Ada', department: 'R&D', status: 'active', email: 'ada@example.com', managerPersonId: 'p-boss', custom: { [`${CSV_URN}:JobCode`]: 'X', badge: '7' } };
    const user = personToScimUser({ personId: 'p-1', workerId: 'W1', version: 3, attributes, active: true, createdAt: new Date(0), updatedAt: new Date(1000) }, 'https://hr/scim/v2/Users/p-1');
    expect(user).toMatchObject({
      id: 'p-1',
      externalId: 'W1',
      active: true,
      schemas: [URN.user, URN.enterprise, URN.hr, CSV_URN],
      [URN.enterprise]: { department: 'R&D', manager: { value: 'p-boss', $ref: '../Users/p-boss' } },
      [URN.hr]: { status: 'active', extensionAttributes: [{ name: 'badge', value: '7' }] },
      [CSV_URN]: { JobCode: 'X' },
      meta: { resourceType: 'User', version: 'W/"3"', location: 'https://hr/scim/v2/Users/p-1', lastModified: '1970-01-01T00:00:01.000Z' },
    });
    const back = scimUserToWorker(user, { attributeMap: new Map() });
    expect(back.attributes).toMatchObject({ userName: 'ada', givenName: 'Ada', department: 'R&D', email: 'ada@example.com', custom: { [`${CSV_URN}:JobCode`]: 'X', badge: '7' } });
    expect(projectAttributes(user, 'userName,name.givenName')).toEqual({ schemas: user['schemas'], id: 'p-1', meta: user['meta'], userName: 'ada', name: { givenName: 'Ada' } });
    expect(projectAttributes(user, undefined, `emails,${URN.enterprise}:manager`)).not.toHaveProperty('emails');
    expect((projectAttributes(user, undefined, `${URN.enterprise}:manager`)[URN.enterprise] as object)).toEqual({ department: 'R&D' });
  });
});

describe('SCIM filters', () => {
  it('resolves attribute paths (qualified or not, any case) and value paths', () => {
    expect(parseScimFilter('userName eq "Ada"')).toEqual({ op: 'eq', field: { name: 'userName', type: 'string', caseExact: false }, value: 'Ada' });
    expect(parseScimFilter(`${URN.enterprise}:Department sw "R" and not (active eq false)`)).toMatchObject({
      op: 'and',
      filters: [{ op: 'sw', field: { name: 'department' } }, { op: 'not', filter: { op: 'eq', field: { name: 'active' }, value: false } }],
    });
    expect(parseScimFilter('emails[type eq "work" and value co "@example.com"]')).toMatchObject({ op: 'and', filters: [{ op: 'const', value: true }, { op: 'co', field: { name: 'email' } }] });
    expect(parseScimFilter('externalId pr')).toMatchObject({ op: 'pr', field: { name: 'externalId', caseExact: true } });
  });

  it('refuses unparsable filters and attributes it cannot filter, with invalidFilter', () => {
    for (const f of ['userName eq', 'userName zz "x"', 'nickName eq "x"', 'active gt true', 'meta.created gt "yesterday"']) {
      expect(scimError(() => parseScimFilter(f))).toMatchObject({ status: 400, scimType: 'invalidFilter' });
    }
  });
});

describe('SCIM PATCH', () => {
  const base = personToScimUser(
    { personId: 'p-1', workerId: 'W1', version: 1, attributes: { ...EMPTY_ATTRIBUTES, userName: 'ada', department: 'R&D', email: 'ada@example.com', status: 'active' }, active: true, createdAt: new Date(0), updatedAt: new Date(0) },
    '/scim/v2/Users/p-1',
  );

  it('applies Entra-style operations (capitalised op, URN paths, string booleans, no-path values)', () => {
    const ops = parsePatchRequest({
      schemas: [URN.patchOp],
      Operations: [
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Add', path: `${URN.enterprise}:department`, value: 'Sales' },
        { op: 'replace', path: `${URN.enterprise}:manager`, value: 'p-boss' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ada@new.example' },
        { op: 'replace', value: { displayName: 'Ada L.', 'name.givenName': 'Ada' } },
        { op: 'remove', path: 'TITLE' },
      ],
    });
    const patched = applyPatch(base, ops);
    const w = patchedWorker(base, patched, { attributeMap: new Map() });
    // Only what the patch changed, as a delta.
    expect(w.attributes).toEqual({ status: 'terminated', department: 'Sales', email: 'ada@new.example', displayName: 'Ada L.', givenName: 'Ada' });
    expect(w.manager).toBe('p-boss');
    const removed = patchedWorker(base, applyPatch(base, parsePatchRequest({ schemas: [URN.patchOp], Operations: [{ op: 'remove', path: `${URN.enterprise}:department` }] })), { attributeMap: new Map() });
    expect(removed.attributes).toEqual({ department: null });
  });

  it('refuses malformed PatchOp messages and read-only paths', () => {
    expect(scimError(() => parsePatchRequest({ schemas: ['urn:bogus'], Operations: [] }))).toMatchObject({ scimType: 'invalidValue' });
    expect(scimError(() => parsePatchRequest({ schemas: [URN.patchOp], Operations: [{ op: 'move', path: 'x' }] }))).toMatchObject({ scimType: 'invalidSyntax' });
    expect(scimError(() => parsePatchRequest({ schemas: [URN.patchOp], Operations: [{ op: 'remove' }] }))).toMatchObject({ scimType: 'noTarget' });
    expect(scimError(() => parsePatchRequest({ schemas: [URN.patchOp], Operations: [{ op: 'replace', path: 'id', value: 'x' }] }))).toMatchObject({ scimType: 'mutability' });
  });
});

describe('SCIM bulk requests', () => {
  const op = (i: number, o: Record<string, unknown> = {}) => ({ method: 'POST', bulkId: `b${i}`, path: '/Users', data: { schemas: [URN.user], externalId: `W${i}` }, ...o });

  it('reads operations, matching paths case-insensitively, and reports each bad operation on its own', () => {
    const r = parseBulkRequest(
      {
        schemas: [URN.bulkRequest],
        failOnErrors: 2,
        Operations: [op(1), op(2, { path: '/users' }), { method: 'patch', path: '/Users/p-9', data: { schemas: [URN.patchOp] } }, op(4, { path: '/Groups' }), op(5, { bulkId: undefined }), { method: 'DELETE', path: '/Users' }],
      },
      50,
    );
    expect(r.failOnErrors).toBe(2);
    expect(r.operations.map((o) => ('error' in o ? `${o.index}:${o.error.scimType}` : `${o.index}:${o.method}:${o.resourceId ?? ''}`))).toEqual([
      '0:POST:',
      '1:POST:',
      '2:PATCH:p-9',
      '3:invalidPath',
      '4:invalidSyntax',
      '5:invalidPath',
    ]);
  });

  it('refuses more operations than bulk.maxOperations with 413, and unknown message schemas with 400', () => {
    expect(scimError(() => parseBulkRequest({ schemas: [URN.bulkRequest], Operations: Array.from({ length: 51 }, (_, i) => op(i)) }, 50))).toMatchObject({ status: 413 });
    expect(scimError(() => parseBulkRequest({ schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkResponse'], Operations: [] }, 50))).toMatchObject({ status: 400, scimType: 'invalidValue' });
    expect(scimError(() => parseBulkRequest({ schemas: [URN.bulkRequest] }, 50))).toMatchObject({ status: 400, scimType: 'invalidSyntax' });
  });
});
