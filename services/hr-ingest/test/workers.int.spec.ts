import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventTypes } from '@provisio/contracts';
import { HrIngestHarness } from './harness.js';

describe('workers API → hr.lifecycle on the real broker', () => {
  let h: HrIngestHarness;

  beforeAll(async () => {
    h = await HrIngestHarness.start();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const put = (workerId: string, body: unknown) => h.request('PUT', `/v1/sources/workday/workers/${workerId}`, { body });

  it('emits joiner, mover, conversion and leaver in order under one personId, with CloudEvents headers', async () => {
    const joined = await put('W-1', { sequence: 1, attributes: { userName: 'ada', status: 'active', department: 'R&D', workerType: 'employee', hireDate: '2020-01-01' } });
    expect(joined.status).toBe(200);
    expect(joined.json).toMatchObject({ created: true, status: 'created', events: [{ kind: 'JOINER', stage: 'EFFECTIVE' }] });
    const personId = joined.json['personId'] as string;
    expect((await put('W-1', { sequence: 2, attributes: { department: 'Sales' } })).json).toMatchObject({ events: [{ kind: 'MOVER' }] });
    expect((await put('W-1', { sequence: 3, attributes: { workerType: 'contractor' } })).json).toMatchObject({ events: [{ kind: 'CONVERSION' }] });
    expect((await put('W-1', { sequence: 4, attributes: { status: 'terminated' } })).json).toMatchObject({ events: [{ kind: 'LEAVER' }] });

    const events = await h.eventsWhere((e) => e.personId === personId, 4);
    expect(events.map((e) => e.kind)).toEqual(['JOINER', 'MOVER', 'CONVERSION', 'LEAVER']);
    // recordedAt strictly increases per person (consumers drop older ones as replays).
    expect(events.every((e, i) => i === 0 || e.recordedAt > events[i - 1]!.recordedAt)).toBe(true);
    expect(events[1]).toMatchObject({ changedAttributes: ['department'], previousAttributes: expect.objectContaining({ department: 'R&D' }), reason: 'hr-change', timeZone: 'UTC' });
    expect(events[3]!.attributes.status).toBe('terminated');
    expect(events.map((e) => e.source)).toEqual([1, 2, 3, 4].map((sequence) => expect.objectContaining({ system: 'workday', workerId: 'W-1', sequence, channel: 'API' })));
    const consumed = h.events.filter((e) => e.key === personId);
    expect(consumed[0]!.headers).toMatchObject({ ce_type: EventTypes.lifecycle('JOINER'), ce_subject: personId, ce_id: events[0]!.eventId });
  });

  it('is idempotent, refuses stale updates with 409 and stores nothing for them', async () => {
    const body = { sequence: 10, attributes: { userName: 'bob', status: 'active', department: 'Ops' } };
    const first = await put('W-2', body);
    const personId = first.json['personId'] as string;
    const again = await put('W-2', body);
    expect(again.json).toMatchObject({ status: 'unchanged', events: [] });
    const stale = await put('W-2', { sequence: 9, attributes: { department: 'Old' } });
    expect(stale.status).toBe(409);
    expect(stale.json).toMatchObject({ code: 'STALE_UPDATE', details: [expect.objectContaining({ field: 'sequence', rule: 'not-older-than-stored', value: '9' })] });
    const view = await h.request('GET', `/v1/persons/${personId}`, { token: h.readToken });
    expect(view.json).toMatchObject({ version: 1, sequence: 10, attributes: expect.objectContaining({ department: 'Ops' }) });
    await h.settle();
    expect(h.eventsOf(personId).map((e) => e.kind)).toEqual(['JOINER']);
  });

  it('announces a future start now (PRE_HIRE) and the start and a timed leaver when the scheduler reaches them', async () => {
    const start = new Date(Date.now() + 1500).toISOString();
    const end = new Date(Date.now() + 3000).toISOString();
    const res = await put('W-3', { attributes: { userName: 'cleo', status: 'active', hireDate: start, terminationDate: end } });
    expect(res.json).toMatchObject({ events: [{ kind: 'JOINER', stage: 'PRE_HIRE', effectiveAt: start }] });
    const personId = res.json['personId'] as string;
    const events = await h.eventsWhere((e) => e.personId === personId, 3, 30_000);
    expect(events.map((e) => `${e.kind}/${e.stage}/${e.source.channel}`)).toEqual(['JOINER/PRE_HIRE/API', 'JOINER/EFFECTIVE/SCHEDULER', 'LEAVER/EFFECTIVE/SCHEDULER']);
    expect(events[1]).toMatchObject({ effectiveAt: Date.parse(start), reason: 'start-date-reached' });
    expect(events[2]).toMatchObject({ effectiveAt: Date.parse(end), reason: 'termination-date-reached' });
    // One job per person, rescheduled from the start to the end, ran each time once; nothing is pending.
    expect(await h.db.query('SELECT status, attempts FROM hr_ingest.scheduled_jobs WHERE job_key = $1', [personId])).toEqual([{ status: 'done', attempts: 1 }]);
    await h.settle();
    expect(h.eventsOf(personId)).toHaveLength(3);
  });

  it('resolves a manager who arrives later and reports the wait', async () => {
    const report = await put('W-5', { managerWorkerId: 'W-4', attributes: { userName: 'dan', status: 'active' } });
    expect(report.json['warnings']).toEqual([expect.objectContaining({ field: 'managerWorkerId', value: 'W-4', rule: 'manager-known' })]);
    const manager = await put('W-4', { attributes: { userName: 'eve', status: 'active' } });
    const reportId = report.json['personId'] as string;
    const [mover] = await h.eventsWhere((e) => e.personId === reportId && e.kind === 'MOVER');
    expect(mover).toMatchObject({ reason: 'manager-resolved', changedAttributes: ['managerPersonId'], attributes: expect.objectContaining({ managerPersonId: manager.json['personId'] }) });
  });

  it('documents every input in the OpenAPI document served at /docs', async () => {
    const doc = (await h.request('GET', '/docs/openapi.json', { token: null })).json as { paths: Record<string, Record<string, unknown>> };
    for (const path of ['/v1/sources/{source}/workers/{workerId}', '/v1/events', '/scim/v2/Bulk', '/scim/v2/Users', '/scim/v2/Users/{id}', '/v1/sources/{source}/snapshots', '/v1/sources/{source}/csv-mappings/{name}', '/v1/snapshots/{id}/confirm', '/v1/snapshots/{id}/leavers']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(JSON.stringify(doc.paths['/v1/sources/{source}/workers/{workerId}'])).toContain('managerWorkerId');
  });

  it('rejects bad input with the field, value and rule, and stores nothing', async () => {
    const before = await h.count('persons');
    const bad = await put('W-6', { attributes: { status: 'gone', hireDate: '2025-02-30', countryCode: 'Germany', shoeSize: 42 } });
    expect(bad.status).toBe(400);
    const details = bad.json['details'] as { field: string; rule: string; value?: string }[];
    expect(details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'body.attributes.status', value: 'gone', rule: 'invalid_value' }),
        expect.objectContaining({ field: 'body.attributes.hireDate', value: '2025-02-30', rule: 'iso-8601-date' }),
        expect.objectContaining({ field: 'body.attributes.countryCode', value: 'Germany' }),
        expect.objectContaining({ field: 'body.attributes.shoeSize', rule: 'known-attribute' }),
      ]),
    );
    expect((await h.request('PUT', '/v1/sources/workday/workers/W-6', { raw: '{"attributes": {', contentType: 'application/json' })).status).toBe(400);
    const wrongType = await h.request('PUT', '/v1/sources/workday/workers/W-6', { raw: JSON.stringify({ attributes: { status: 'active' } }), contentType: 'text/plain' });
    expect({ status: wrongType.status, code: wrongType.json?.['code'] }).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(wrongType.json['message']).toContain('application/json');
    expect((await h.request('PUT', '/v1/sources/Bad Source/workers/W-6', { body: { attributes: {} } })).status).toBe(400);
    expect(await h.count('persons')).toBe(before);
  });

  it('answers a body that is not JSON with MALFORMED_JSON (field, rule, position) on every JSON route, and another type with 415', async () => {
    const before = await h.count('persons');
    const malformed = await h.request('PUT', '/v1/sources/workday/workers/W-8', { raw: '{"attributes":', contentType: 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ code: 'MALFORMED_JSON', details: [{ field: 'body', rule: 'json', position: 14 }] });
    expect(malformed.json['message']).toMatch(/^the body is not valid JSON: .+ at position 14 \(line 1 column 15\)$/);
    const mid = await h.request('PUT', '/v1/sources/workday/workers/W-8', { raw: '{"attributes": {"status": active}}', contentType: 'application/json; charset=utf-8' });
    expect(mid.json).toMatchObject({ code: 'MALFORMED_JSON', details: [{ field: 'body', rule: 'json', position: 26 }] });
    const mapping = await h.request('PUT', '/v1/sources/workday/csv-mappings/m1', { raw: '{"columns": {', contentType: 'application/json' });
    expect({ status: mapping.status, code: mapping.json['code'] }).toEqual({ status: 400, code: 'MALFORMED_JSON' });
    // JSON (even broken JSON) where the route takes something else: 415, as for any other type.
    for (const [path, method, type, accepted] of [
      ['/v1/sources/workday/snapshots', 'POST', 'application/json', 'text/csv'],
      ['/v1/sources/workday/workers/W-8', 'PUT', 'application/scim+json', 'application/json'],
    ] as const) {
      const r = await h.request(method, path, { raw: '{"attributes":', contentType: type });
      expect({ path, status: r.status, code: r.json?.['code'] }).toEqual({ path, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      expect(r.json['message']).toContain(accepted);
    }
    const scim = await h.request('POST', '/scim/v2/Users', { raw: '{"schemas": [', contentType: 'application/scim+json' });
    expect(scim.json).toMatchObject({ status: '400', scimType: 'invalidSyntax', detail: expect.stringContaining('at position 13') });
    expect(await h.count('persons')).toBe(before);
  });

  it('answers 401 with a Bearer challenge (invalid_token when a token was sent) and 403 with insufficient_scope', async () => {
    const none = await h.request('PUT', '/v1/sources/workday/workers/W-7', { body: { attributes: {} }, token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="provisio"');
    const bad = await h.request('GET', '/v1/sources/workday/workers/W-7', { token: 'not.a.jwt' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm="provisio", error="invalid_token", error_description="[^"]+"$/);
    const readOnly = await h.request('PUT', '/v1/sources/workday/workers/W-7', { body: { attributes: {} }, token: h.readToken });
    expect(readOnly.status).toBe(403);
    expect(readOnly.headers.get('www-authenticate')).toBe('Bearer realm="provisio", error="insufficient_scope", error_description="missing scope: hr:write", scope="hr:write"');
  });
});
