import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '@provisio/testing';
import { randomBytes } from 'node:crypto';
import { futureSourceTimeRepairSql } from '../src/migrations/1768000000000-future-source-times.js';
import { signStandardWebhook } from '../src/webhook/standard-webhooks.js';
import { HrIngestHarness } from './harness.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const HR = 'urn:provisio:params:scim:schemas:extension:hr:1.0:User';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

interface Detail {
  field: string;
  value?: string;
  rule: string;
  message: string;
}

describe('a source time in the future is refused and cannot freeze a person (real broker and PostgreSQL)', () => {
  let h: HrIngestHarness;

  beforeAll(async () => {
    h = await HrIngestHarness.start({ WEBHOOK_SECRET: SECRET });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const put = (source: string, workerId: string, body: unknown) => h.request('PUT', `/v1/sources/${source}/workers/${workerId}`, { body });
  const expectFuture = (res: { status: number; json: Record<string, unknown> }, field: string) => {
    expect(res.status).toBe(400);
    const d = (res.json['details'] as Detail[])[0]!;
    expect(d).toMatchObject({ field, rule: 'not-in-future' });
    expect(d.message).toContain('at most now + 5m');
  };

  it('workers API: 400 not-in-future naming field and value; nothing stored; future effective dates still work', async () => {
    const stamp = inAnHour();
    const res = await put('api', 'F1', { sourceTimestamp: stamp, attributes: { status: 'active', department: 'Ops' } });
    expectFuture(res, 'body.sourceTimestamp');
    expect((res.json['details'] as Detail[])[0]!.value).toBe(stamp);
    expect((await h.request('GET', '/v1/sources/api/workers/F1', { token: h.readToken })).status).toBe(404);
    // Within the allowed skew, and a hire date years ahead: accepted (a PRE_HIRE joiner).
    const ok = await put('api', 'F1', { sourceTimestamp: new Date(Date.now() + 60_000).toISOString(), attributes: { status: 'active', hireDate: '2099-01-01' } });
    expect(ok.json).toMatchObject({ status: 'created', events: [{ kind: 'JOINER', stage: 'PRE_HIRE' }] });
    // The later correct change is not frozen out.
    expect((await put('api', 'F1', { sourceTimestamp: new Date(Date.now() + 120_000).toISOString(), attributes: { department: 'Sales' } })).status).toBe(200);
  });

  it('webhook: a payload timestamp in the future is 400 not-in-future and the delivery can be retried', async () => {
    const send = (id: string, timestamp: string) => {
      const ts = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({ type: 'worker.updated', timestamp, data: { source: 'bamboo', workerId: 'F2', attributes: { status: 'active', department: 'Ops' } } });
      return h.request('POST', '/v1/events', { raw: body, token: null, headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signStandardWebhook(SECRET, id, ts, body) } });
    };
    const before = await h.count('persons');
    expectFuture(await send('msg_future_1', inAnHour()), 'body.timestamp');
    expect(await h.count('persons')).toBe(before);
    expect(await h.count(`webhook_deliveries WHERE webhook_id = 'msg_future_1'`)).toBe(0);
    expect((await send('msg_future_1', new Date().toISOString())).status).toBe(200);
  });

  it('SCIM: a future HR-extension sourceTimestamp is 400 invalidValue, per operation in a bulk request', async () => {
    const user = (externalId: string, sourceTimestamp: string) => ({ schemas: [USER, HR], externalId, userName: `${externalId}@example.com`, active: true, [HR]: { sourceTimestamp } });
    const single = await h.request('POST', '/scim/v2/Users', { body: user('F3', inAnHour()), contentType: 'application/scim+json' });
    expect(single.status).toBe(400);
    expect(single.json).toMatchObject({ scimType: 'invalidValue', detail: expect.stringContaining('not-in-future') });
    expect(single.json['detail']).toContain(`${HR}:sourceTimestamp`);
    const bulk = await h.request('POST', '/scim/v2/Bulk', {
      contentType: 'application/scim+json',
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [
          { method: 'POST', path: '/Users', bulkId: 'a', data: user('F4', inAnHour()) },
          { method: 'POST', path: '/Users', bulkId: 'b', data: user('F5', ago(1000)) },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    const ops = bulk.json['Operations'] as { bulkId: string; status: string; response?: { scimType?: string; detail?: string } }[];
    expect(ops.map((o) => [o.bulkId, o.status])).toEqual([
      ['a', '400'],
      ['b', '201'],
    ]);
    expect(ops[0]!.response).toMatchObject({ scimType: 'invalidValue', detail: expect.stringContaining('not-in-future') });
  });

  it('CSV: an upload with asOf in the future is refused whole (400); a row stamped in the future is rejected, its worker still present', async () => {
    const mapping = 'version: 1\nsnapshot: { mode: full, absentWorkers: leaver }\ncolumns: { workerId: ID, status: Status, department: Dept, sourceTimestamp: Changed }\n';
    expect((await h.request('PUT', '/v1/sources/csv/csv-mappings/default', { raw: mapping, contentType: 'application/yaml' })).status).toBe(200);
    const snapshots = await h.count('snapshots');
    const refused = await h.request('POST', `/v1/sources/csv/snapshots?asOf=${encodeURIComponent(inAnHour())}`, { raw: 'ID,Status,Dept,Changed\nC1,active,Ops,\n', contentType: 'text/csv' });
    expectFuture(refused, 'query.asOf');
    expect(await h.count('snapshots')).toBe(snapshots);

    const finished = (id: string) =>
      waitFor(
        async () => {
          const s = (await h.request('GET', `/v1/snapshots/${id}`, { token: h.readToken })).json;
          return ['applied', 'held', 'failed'].includes(s['status'] as string) ? s : undefined;
        },
        { what: 'snapshot' },
      );
    const first = await h.request('POST', `/v1/sources/csv/snapshots?asOf=${encodeURIComponent(ago(60_000))}`, { raw: 'ID,Status,Dept,Changed\nC1,active,Ops,\nC2,active,Ops,\nC3,active,Ops,\nC4,active,Ops,\nC5,active,Ops,\n', contentType: 'text/csv' });
    expect(await finished(first.json['snapshotId'] as string)).toMatchObject({ status: 'applied', events: { JOINER: 5 } });
    const future = inAnHour();
    const second = await h.request('POST', '/v1/sources/csv/snapshots', { raw: `ID,Status,Dept,Changed\nC1,active,Sales,${future}\nC2,active,Ops,\nC3,active,Ops,\nC4,active,Ops,\nC5,active,Ops,\n`, contentType: 'text/csv' });
    expect(await finished(second.json['snapshotId'] as string)).toMatchObject({ status: 'applied', events: {}, rows: { rejected: 1 } });
    const rej = (await h.request('GET', `/v1/snapshots/${second.json['snapshotId'] as string}/rejections`, { token: h.readToken })).json['rows'] as { workerId: string; errors: Detail[] }[];
    expect(rej).toEqual([{ row: 1, line: 2, workerId: 'C1', errors: [expect.objectContaining({ field: 'Changed', rule: 'not-in-future' })] }]);
    expect((await h.request('GET', '/v1/sources/csv/workers/C1', { token: h.readToken })).json).toMatchObject({ phase: 'active', attributes: { department: 'Ops' } });
  });

  it('a person frozen by a future stamp before this check (older releases) is repaired by the migration', async () => {
    expect((await put('api', 'F9', { sourceTimestamp: ago(60_000), sequence: 3, attributes: { status: 'active', department: 'Ops', jobTitle: 'Clerk' } })).status).toBe(200);
    // What an older release stored for a webhook stamped in 2030: attribute stamps and watermark.
    const y2030 = Date.parse('2030-01-01T00:00:00Z');
    await h.db.query(
      `UPDATE hr_ingest.persons SET source_ts = $1, stamps = jsonb_build_object('department', jsonb_build_object('ts', $1::bigint, 'seq', null), 'jobTitle', jsonb_build_object('ts', $1::bigint, 'seq', 3))
       WHERE source = 'api' AND worker_id = 'F9'`,
      [y2030],
    );
    const frozen = await put('api', 'F9', { sourceTimestamp: new Date().toISOString(), attributes: { department: 'Sales' } });
    expect({ status: frozen.status, code: frozen.json['code'] }).toEqual({ status: 409, code: 'STALE_UPDATE' });

    for (const sql of futureSourceTimeRepairSql('hr_ingest')) await h.db.query(sql, [Date.now() + 300_000]);
    const [row] = await h.db.query<{ source_ts: string | null; stamps: Record<string, unknown> }>(`SELECT source_ts, stamps FROM hr_ingest.persons WHERE source = 'api' AND worker_id = 'F9'`);
    expect(row).toEqual({ source_ts: null, stamps: { jobTitle: { ts: null, seq: 3 } } });
    const repaired = await put('api', 'F9', { sourceTimestamp: new Date().toISOString(), attributes: { department: 'Sales' } });
    expect(repaired.json).toMatchObject({ status: 'changed', events: [{ kind: 'MOVER' }] });
    // The sequence a stamp kept still orders: an older sequence for jobTitle stays refused.
    expect((await put('api', 'F9', { sequence: 2, attributes: { jobTitle: 'Intern' } })).status).toBe(409);
  });
});
