import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { URN } from '@provisio/hr-ingest-scim';
import { mintToken } from '@provisio/testing';
import { HrIngestHarness } from './harness.js';

const CSV_URN = 'urn:ietf:params:scim:schemas:extension:csv:1.0:User';
const SCIM = 'application/scim+json';

function entraUser(id: string, o: { manager?: string; department?: string; active?: boolean; hireDate?: string } = {}) {
  return {
    schemas: [URN.user, URN.enterprise, CSV_URN],
    externalId: id,
    userName: `user${id}@example.com`,
    name: { givenName: `Given${id}`, familyName: 'Doe' },
    displayName: `Given${id} Doe`,
    emails: [{ value: `user${id}@example.com`, type: 'work', primary: true }],
    userType: 'Employee',
    title: 'Engineer',
    active: o.active ?? true,
    [URN.enterprise]: { employeeNumber: id, department: o.department ?? 'R&D', costCenter: '4130', ...(o.manager ? { manager: { value: o.manager } } : {}) },
    [CSV_URN]: { HireDate: o.hireDate ?? '2021-05-01', JobCode: 'ENG' },
  };
}

const bulk = (ops: unknown[]) => ({ schemas: [URN.bulkRequest], Operations: ops });
const post = (bulkId: string, data: unknown, path = '/Users') => ({ method: 'POST', bulkId, path, data });

describe('SCIM 2.0 inbound → hr.lifecycle on the real broker', () => {
  let h: HrIngestHarness;

  beforeAll(async () => {
    h = await HrIngestHarness.start({
      SCIM_ATTRIBUTE_MAP: JSON.stringify({ [`${CSV_URN}:HireDate`]: 'hireDate' }),
      SCIM_BULK_MAX_PAYLOAD_BYTES: '65536',
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const scim = (method: string, path: string, body?: unknown, o: { contentType?: string; token?: string | null; headers?: Record<string, string>; raw?: string } = {}) =>
    h.request(method, `/scim/v2${path}`, { ...(body !== undefined ? { body } : {}), contentType: o.contentType ?? SCIM, ...o });

  async function unchanged<T>(action: () => Promise<T>): Promise<T> {
    await h.settle();
    const before = { persons: await h.count('persons'), events: h.events.length };
    const r = await action();
    await h.settle();
    expect({ persons: await h.count('persons'), events: h.events.length }).toEqual(before);
    return r;
  }

  it('serves the discovery endpoints per RFC 7643/7644', async () => {
    const spc = await scim('GET', '/ServiceProviderConfig');
    expect(spc.status).toBe(200);
    expect(spc.headers.get('content-type')).toContain(SCIM);
    expect(spc.json).toMatchObject({
      schemas: [URN.serviceProviderConfig],
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 50, maxPayloadSize: 65536 },
      filter: { supported: true, maxResults: 200 },
      etag: { supported: true },
      authenticationSchemes: [expect.objectContaining({ type: 'oauthbearertoken' })],
    });
    const schemas = await scim('GET', '/Schemas');
    expect(schemas.json).toMatchObject({ schemas: [URN.listResponse], totalResults: 3 });
    expect((schemas.json['Resources'] as { id: string }[]).map((s) => s.id)).toEqual([URN.user, URN.enterprise, URN.hr]);
    const user = await scim('GET', `/Schemas/${URN.user}`);
    expect((user.json['attributes'] as { name: string }[]).map((a) => a.name)).toEqual(expect.arrayContaining(['id', 'externalId', 'userName', 'name', 'emails', 'active']));
    const types = await scim('GET', '/ResourceTypes');
    expect(types.json['Resources']).toEqual([expect.objectContaining({ id: 'User', endpoint: '/Users', schema: URN.user, schemaExtensions: [{ schema: URN.enterprise, required: false }, { schema: URN.hr, required: false }] })]);
  });

  it('applies an Entra-style bulk upload: upserts by externalId, managers resolved within the request, idempotent', async () => {
    const body = bulk([post('E1', entraUser('E1', { manager: 'M1' })), post('E2', entraUser('E2', { manager: 'M1' }), '/users'), post('M1', entraUser('M1'))]);
    const res = await scim('POST', '/Bulk', body);
    expect(res.status).toBe(200);
    expect(res.json['schemas']).toEqual([URN.bulkResponse]);
    const ops = res.json['Operations'] as { bulkId: string; status: string; location: string; version: string; method: string }[];
    expect(ops.map((o) => `${o.method} ${o.bulkId} ${o.status}`)).toEqual(['POST E1 201', 'POST E2 201', 'POST M1 201']);
    const managerId = ops[2]!.location.split('/').pop()!;
    const e1 = ops[0]!.location.split('/').pop()!;
    const [joiner] = await h.eventsWhere((e) => e.personId === e1);
    expect(joiner).toMatchObject({ kind: 'JOINER', source: expect.objectContaining({ system: 'scim', workerId: 'E1', channel: 'SCIM', batchId: expect.any(String) }) });
    expect(joiner!.attributes).toMatchObject({ managerPersonId: managerId, department: 'R&D', hireDate: '2021-05-01', custom: { [`${CSV_URN}:JobCode`]: 'ENG' } });
    // The same upload again changes nothing; a change in it is a MOVER.
    const again = await unchanged(() => scim('POST', '/Bulk', body));
    expect((again.json['Operations'] as { status: string }[]).map((o) => o.status)).toEqual(['200', '200', '200']);
    await scim('POST', '/Bulk', bulk([post('E1', entraUser('E1', { manager: 'M1', department: 'Sales' }))]));
    expect(await h.eventsWhere((e) => e.personId === e1 && e.kind === 'MOVER')).toHaveLength(1);
  });

  it('reports each bad operation on its own and processes the others; duplicates are all refused', async () => {
    const res = await scim(
      'POST',
      '/Bulk',
      bulk([
        post('D1', entraUser('D1')),
        post('D1b', entraUser('D1')),
        post('X1', { ...entraUser('X1'), schemas: [URN.user, 'urn:example:unknown'] }),
        post('X2', { ...entraUser('X2'), externalId: undefined }),
        post('X3', { ...entraUser('X3'), [CSV_URN]: { HireDate: '2021-13-45' } }),
        post('OK', entraUser('OK')),
        { method: 'POST', path: '/Groups', bulkId: 'G', data: {} },
      ]),
    );
    const ops = res.json['Operations'] as { status: string; response?: { scimType?: string; detail: string; schemas: string[] } }[];
    expect(ops.map((o) => `${o.status}:${o.response?.scimType ?? ''}`)).toEqual(['409:uniqueness', '409:uniqueness', '400:invalidValue', '400:invalidValue', '400:invalidValue', '201:', '400:invalidPath']);
    expect(ops[2]!.response).toMatchObject({ schemas: [URN.error], detail: expect.stringContaining('urn:example:unknown') });
    expect(ops[3]!.response!.detail).toContain('externalId');
    expect(ops[4]!.response!.detail).toContain('2021-13-45');
    const d1 = await scim('GET', '/Users?filter=externalId eq "D1"');
    expect(d1.json['totalResults']).toBe(0);
  });

  it('refuses a whole request with the SCIM error schema: 51 operations, oversize, malformed JSON, wrong media type, unknown message URN', async () => {
    const many = await unchanged(() => scim('POST', '/Bulk', bulk(Array.from({ length: 51 }, (_, i) => post(`B${i}`, entraUser(`B${i}`))))));
    expect(many.status).toBe(413);
    expect(many.json).toMatchObject({ schemas: [URN.error], status: '413', detail: expect.stringContaining('51 operations') });
    const big = await unchanged(() => scim('POST', '/Bulk', bulk([post('BIG', { ...entraUser('BIG'), displayName: 'x'.repeat(70_000) })])));
    expect(big.json).toMatchObject({ schemas: [URN.error], status: '413' });
    const malformed = await unchanged(() => scim('POST', '/Bulk', undefined, { raw: '{"schemas": [' }));
    expect(malformed.json).toMatchObject({ schemas: [URN.error], status: '400', scimType: 'invalidSyntax' });
    const text = await unchanged(() => scim('POST', '/Bulk', undefined, { raw: 'schemas=x', contentType: 'text/plain' }));
    expect(text.json).toMatchObject({ schemas: [URN.error], status: '415' });
    const urn = await unchanged(() => scim('POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:Bulk'], Operations: [] }));
    expect(urn.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
    const user = await unchanged(() => scim('POST', '/Users', { ...entraUser('U0'), schemas: [URN.user, 'urn:acme:bogus'] }));
    expect(user.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
  });

  it('creates, reads, filters, pages, patches, replaces and deletes Users with ETags', async () => {
    const created = await scim('POST', '/Users', entraUser('U1', { department: 'Ops' }));
    expect(created.status).toBe(201);
    const id = created.json['id'] as string;
    expect(created.headers.get('location')).toMatch(new RegExp(`/scim/v2/Users/${id}$`));
    expect(created.headers.get('etag')).toBe('W/"1"');
    expect((await scim('POST', '/Users', entraUser('U1'))).json).toMatchObject({ status: '409', scimType: 'uniqueness' });

    const got = await scim('GET', `/Users/${id}?attributes=userName,${URN.enterprise}:department`);
    expect(got.json).toEqual({ schemas: expect.any(Array), id, meta: expect.objectContaining({ version: 'W/"1"' }), userName: 'userU1@example.com', [URN.enterprise]: { department: 'Ops' } });
    const filtered = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "USERU1@EXAMPLE.COM" and active eq true')}`);
    expect(filtered.json).toMatchObject({ totalResults: 1, Resources: [expect.objectContaining({ id })] });
    for (const extra of ['U2', 'U3', 'U4']) expect((await scim('POST', '/Users', entraUser(extra))).status).toBe(201);
    const all = (await scim('GET', '/Users?count=0')).json['totalResults'] as number;
    expect(all).toBeGreaterThanOrEqual(4);
    const page = await scim('GET', '/Users?startIndex=2&count=2');
    expect(page.json).toMatchObject({ totalResults: all, startIndex: 2, itemsPerPage: 2 });
    const last = await scim('GET', `/Users?startIndex=${all}&count=5`);
    expect(last.json).toMatchObject({ itemsPerPage: 1 });
    expect((await scim('GET', '/Users?filter=nickName eq "x"')).json).toMatchObject({ status: '400', scimType: 'invalidFilter' });

    const patched = await scim('PATCH', `/Users/${id}`, { schemas: [URN.patchOp], Operations: [{ op: 'Replace', path: `${URN.enterprise}:department`, value: 'Sales' }] }, { headers: { 'if-match': 'W/"1"' } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ [URN.enterprise]: expect.objectContaining({ department: 'Sales' }), meta: expect.objectContaining({ version: 'W/"2"' }) });
    expect((await scim('PATCH', `/Users/${id}`, { schemas: [URN.patchOp], Operations: [{ op: 'replace', path: 'title', value: 'x' }] }, { headers: { 'if-match': 'W/"1"' } })).status).toBe(412);
    const replaced = await scim('PUT', `/Users/${id}`, { schemas: [URN.user], userName: 'userU1@example.com', title: 'Lead' });
    expect(replaced.json).toMatchObject({ title: 'Lead', [URN.enterprise]: expect.objectContaining({ department: 'Sales' }) });
    expect((await scim('PUT', `/Users/${id}`, { schemas: [URN.user], externalId: 'OTHER' })).json).toMatchObject({ status: '400', scimType: 'mutability' });
    const disabled = await scim('PATCH', `/Users/${id}`, { schemas: [URN.patchOp], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(disabled.json['active']).toBe(false);

    expect((await scim('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await scim('GET', `/Users/${id}`)).json).toMatchObject({ status: '404' });
    const back = await scim('POST', '/Users', entraUser('U1'));
    expect(back.json['id']).toBe(id);
    // The title is a mover attribute; active=false is the leaver, so the delete adds none; the
    // new create is the same person's rehire.
    await h.settle();
    const events = h.eventsOf(id);
    expect(events.map((e) => `${e.kind}:${e.changedAttributes.join(',')}`)).toEqual([
      expect.stringMatching(/^JOINER:/),
      'MOVER:department',
      'MOVER:jobTitle',
      'LEAVER:status',
      expect.stringMatching(/^REHIRE:.*department.*status/),
    ]);
  });

  it('reports a manager not known yet on the User (HR extension, read-only) and on its bulk operation, until that manager arrives', async () => {
    const created = await scim('POST', '/Users', entraUser('R1', { manager: 'RM' }));
    expect(created.status).toBe(201);
    expect(created.json[URN.hr]).toMatchObject({ managerExternalId: 'RM', managerResolved: false });
    expect(created.json[URN.enterprise]).not.toHaveProperty('manager');
    const id = created.json['id'] as string;

    const ops = (await scim('POST', '/Bulk', bulk([post('r2', entraUser('R2', { manager: 'RM' })), post('r3', entraUser('R3', { manager: 'R1' }))]))).json['Operations'] as {
      bulkId: string;
      status: string;
      response?: Record<string, Record<string, unknown>>;
    }[];
    expect(ops.map((o) => [o.bulkId, o.status])).toEqual([
      ['r2', '201'],
      ['r3', '201'],
    ]);
    expect(ops[0]!.response?.[URN.hr]).toMatchObject({ managerExternalId: 'RM', managerResolved: false });
    expect(ops[1]).not.toHaveProperty('response');

    // Sending the resource back (read-only attributes included) changes nothing and is no error.
    const got = await scim('GET', `/Users/${id}`);
    expect(got.json[URN.hr]).toMatchObject({ managerResolved: false });
    expect((await scim('PUT', `/Users/${id}`, got.json)).status).toBe(200);
    expect((await scim('PATCH', `/Users/${id}`, { schemas: [URN.patchOp], Operations: [{ op: 'replace', path: `${URN.hr}:managerResolved`, value: true }] })).json[URN.hr]).toMatchObject({ managerResolved: false });

    const manager = await scim('POST', '/Users', entraUser('RM'));
    const after = await scim('GET', `/Users/${id}`);
    expect(after.json[URN.hr]).toMatchObject({ managerExternalId: 'RM', managerResolved: true });
    expect(after.json[URN.enterprise]).toMatchObject({ manager: { value: manager.json['id'] } });
    const schema = (await scim('GET', `/Schemas/${URN.hr}`)).json['attributes'] as { name: string; mutability: string }[];
    expect(schema.filter((a) => a.name.startsWith('manager'))).toEqual([expect.objectContaining({ name: 'managerExternalId', mutability: 'readOnly' }), expect.objectContaining({ name: 'managerResolved', mutability: 'readOnly' })]);
  });

  it('refuses unknown or undeclared extension schemas on create, replace, patch and bulk, naming the URN, and stores nothing', async () => {
    const created = await scim('POST', '/Users', entraUser('EXT1'));
    expect(created.status).toBe(201);
    const id = created.json['id'] as string;
    const bogus = 'urn:acme:params:scim:schemas:bogus:1.0:User';
    const named = (scimType: string, urn: string) => expect.objectContaining({ schemas: [URN.error], status: '400', scimType, detail: expect.stringContaining(urn) });

    // A URN in schemas that is neither core, enterprise, the HR extension nor a custom extension.
    expect((await unchanged(() => scim('POST', '/Users', { ...entraUser('EXT2'), schemas: [URN.user, bogus] }))).json).toEqual(named('invalidValue', bogus));
    expect((await unchanged(() => scim('PUT', `/Users/${id}`, { ...entraUser('EXT1'), schemas: [URN.user, bogus] }))).json).toEqual(named('invalidValue', bogus));
    // Extension data whose schema is not listed in schemas.
    const undeclared = { ...entraUser('EXT3'), schemas: [URN.user, URN.enterprise] };
    expect((await unchanged(() => scim('POST', '/Users', undeclared))).json).toEqual(named('invalidSyntax', CSV_URN));
    // A PatchOp message URN that is not PatchOp.
    expect((await unchanged(() => scim('PATCH', `/Users/${id}`, { schemas: [bogus], Operations: [{ op: 'replace', path: 'title', value: 'X' }] }))).json).toEqual(named('invalidValue', bogus));
    // In bulk: the operation fails on its own with the URN named.
    const r = await unchanged(() => scim('POST', '/Bulk', bulk([post('E4', { ...entraUser('EXT4'), schemas: [URN.user, bogus] })])));
    expect((r.json['Operations'] as { status: string; response?: unknown }[])[0]).toMatchObject({ status: '400', response: named('invalidValue', bogus) });
    expect((await scim('GET', `/Users/${id}`)).json).toMatchObject({ title: 'Engineer', meta: expect.objectContaining({ version: 'W/"1"' }) });
  });

  it('requires a bearer token with the right scope and answers SCIM errors', async () => {
    const none = await scim('GET', '/Users', undefined, { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(none.json).toMatchObject({ schemas: [URN.error], status: '401' });
    const readOnly = await scim('POST', '/Users', entraUser('R1'), { token: await mintToken(['hr:read']) });
    expect(readOnly.json).toMatchObject({ schemas: [URN.error], status: '403' });
    expect((await scim('GET', '/Groups')).json).toMatchObject({ schemas: [URN.error], status: '404' });
  });
});
