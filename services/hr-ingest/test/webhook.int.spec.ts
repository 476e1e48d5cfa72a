import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signStandardWebhook } from '../src/webhook/standard-webhooks.js';
import { HrIngestHarness } from './harness.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const OLD_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

describe('Standard Webhooks receiver → hr.lifecycle on the real broker', () => {
  let h: HrIngestHarness;

  beforeAll(async () => {
    h = await HrIngestHarness.start({ WEBHOOK_SECRET: `${SECRET},${OLD_SECRET}`, WEBHOOK_MAX_BODY_BYTES: '4096' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  let n = 0;
  function deliver(payload: unknown, o: { id?: string; ts?: number; secret?: string; raw?: string; contentType?: string; headers?: Record<string, string> } = {}) {
    const id = o.id ?? `msg_${++n}_${randomBytes(4).toString('hex')}`;
    const ts = o.ts ?? Math.floor(Date.now() / 1000);
    const body = o.raw ?? JSON.stringify(payload);
    return h.request('POST', '/v1/events', {
      raw: body,
      contentType: o.contentType ?? 'application/json',
      token: null,
      headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signStandardWebhook(o.secret ?? SECRET, id, ts, body), ...o.headers },
    });
  }
  const change = (workerId: string, attributes: Record<string, unknown>, type = 'worker.updated', at = new Date()) => ({
    type,
    timestamp: at.toISOString(),
    data: { source: 'bamboo', workerId, attributes },
  });

  async function nothingStoredOrEmitted(action: () => Promise<{ status: number; json: Record<string, unknown> }>, status: number, code: string) {
    await h.settle();
    const before = { persons: await h.count('persons'), deliveries: await h.count('webhook_deliveries'), events: h.events.length };
    const res = await action();
    expect({ status: res.status, code: res.json?.['code'] }).toEqual({ status, code });
    await h.settle();
    expect({ persons: await h.count('persons'), deliveries: await h.count('webhook_deliveries'), events: h.events.length }).toEqual(before);
  }

  it('applies a signed change without a bearer token, with either secret during a rotation', async () => {
    const res = await deliver(change('B-1', { userName: 'fay', status: 'active', department: 'Ops' }, 'worker.created'));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'created', events: [{ kind: 'JOINER' }], webhookId: expect.stringMatching(/^msg_/) });
    const personId = res.json['personId'] as string;
    const moved = await deliver(change('B-1', { department: 'Sales' }), { secret: OLD_SECRET });
    expect(moved.json).toMatchObject({ events: [{ kind: 'MOVER' }] });
    const left = await deliver(change('B-1', { terminationDate: '2024-12-31' }, 'worker.terminated'));
    expect(left.json).toMatchObject({ events: [{ kind: 'LEAVER' }] });
    const events = await h.eventsWhere((e) => e.personId === personId, 3);
    expect(events.map((e) => `${e.kind}:${e.source.channel}`)).toEqual(['JOINER:WEBHOOK', 'MOVER:WEBHOOK', 'LEAVER:WEBHOOK']);
    expect(events[2]).toMatchObject({ reason: 'terminated-in-source', effectiveAt: Date.parse('2025-01-01T00:00:00Z') });
    expect(events[0]!.source.sourceTimestamp).toEqual(expect.any(Number));
  });

  it('refuses a replayed webhook-id with 409, durably, and changes nothing', async () => {
    const payload = change('B-2', { userName: 'gus', status: 'active' });
    const first = await deliver(payload, { id: 'msg_replayed' });
    expect(first.status).toBe(200);
    await nothingStoredOrEmitted(() => deliver(change('B-2', { department: 'Other' }), { id: 'msg_replayed' }), 409, 'WEBHOOK_REPLAYED');
  });

  it('refuses bad signatures, stale timestamps, missing headers, wrong media types, oversize and malformed bodies', async () => {
    const payload = change('B-3', { userName: 'hal', status: 'active' });
    const body = JSON.stringify(payload);
    await nothingStoredOrEmitted(() => deliver(payload, { secret: `whsec_${randomBytes(24).toString('base64')}` }), 401, 'WEBHOOK_BAD_SIGNATURE');
    await nothingStoredOrEmitted(() => deliver(payload, { ts: Math.floor(Date.now() / 1000) - 301 }), 401, 'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE');
    await nothingStoredOrEmitted(() => deliver(payload, { headers: { 'webhook-signature': '' } }), 400, 'WEBHOOK_MISSING_HEADER');
    // Signed, but the body was changed on the way.
    await nothingStoredOrEmitted(
      () => {
        const ts = Math.floor(Date.now() / 1000);
        return h.request('POST', '/v1/events', {
          raw: body.replace('hal', 'mal'),
          token: null,
          headers: { 'webhook-id': 'msg_tampered', 'webhook-timestamp': String(ts), 'webhook-signature': signStandardWebhook(SECRET, 'msg_tampered', ts, body) },
        });
      },
      401,
      'WEBHOOK_BAD_SIGNATURE',
    );
    await nothingStoredOrEmitted(() => deliver(payload, { contentType: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await nothingStoredOrEmitted(() => deliver(change('B-3', { userName: 'x'.repeat(5000) })), 413, 'PAYLOAD_TOO_LARGE');
    // The signature is checked on the raw bytes before the body is parsed: a badly signed
    // malformed body is a 401, a well signed one a 400.
    await nothingStoredOrEmitted(() => deliver(undefined, { raw: '{"type":"worker.updated",', secret: `whsec_${randomBytes(24).toString('base64')}` }), 401, 'WEBHOOK_BAD_SIGNATURE');
    await nothingStoredOrEmitted(() => deliver(undefined, { raw: '{"type":"worker.updated",' }), 400, 'MALFORMED_JSON');
    await nothingStoredOrEmitted(() => deliver({ ...payload, data: { ...payload.data, workerId: undefined } }), 400, 'INVALID_INPUT');
    await nothingStoredOrEmitted(() => deliver(change('B-3', { hireDate: '31.12.2024' })), 400, 'INVALID_INPUT');
  });

  it('refuses a change older than the stored state of every attribute it carries (409) without consuming the delivery id', async () => {
    const now = new Date();
    expect((await deliver(change('B-4', { userName: 'ivy', status: 'active' }, 'worker.created', now))).status).toBe(200);
    await nothingStoredOrEmitted(() => deliver(change('B-4', { userName: 'late', status: 'terminated' }, 'worker.updated', new Date(now.getTime() - 60_000)), { id: 'msg_late' }), 409, 'STALE_UPDATE');
    expect(await h.db.query('SELECT 1 FROM hr_ingest.webhook_deliveries WHERE webhook_id = $1', ['msg_late'])).toEqual([]);
  });
});

describe('Standard Webhooks with per-source secrets (WEBHOOK_SOURCE_SECRETS)', () => {
  let h: HrIngestHarness;
  let dir: string;
  const BAMBOO = `whsec_${randomBytes(24).toString('base64')}`;
  const WORKDAY = `whsec_${randomBytes(24).toString('base64')}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hr-webhook-'));
    await writeFile(join(dir, 'bamboo'), `${BAMBOO}\n`);
    await writeFile(join(dir, 'workday'), WORKDAY);
    h = await HrIngestHarness.start({ WEBHOOK_SOURCE_SECRETS: JSON.stringify({ bamboo: join(dir, 'bamboo'), workday: join(dir, 'workday') }) });
  });
  afterAll(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function deliver(source: string, secret: string, id = `msg_${randomBytes(6).toString('hex')}`, attributes: Record<string, unknown> = { status: 'active', userName: 'x' }) {
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: 'worker.created', timestamp: new Date().toISOString(), data: { source, workerId: `${source}-1`, attributes } });
    return h.request('POST', '/v1/events', { raw: body, token: null, headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signStandardWebhook(secret, id, ts, body) } });
  }

  it("accepts a delivery signed with its source's secret and refuses one signed with another source's secret (403), storing nothing", async () => {
    expect((await deliver('bamboo', BAMBOO)).json).toMatchObject({ status: 'created', events: [{ kind: 'JOINER' }] });
    const persons = await h.count('persons');
    const crossed = await deliver('bamboo', WORKDAY);
    expect({ status: crossed.status, code: crossed.json?.['code'] }).toEqual({ status: 403, code: 'WEBHOOK_SOURCE_NOT_ALLOWED' });
    const unknown = await deliver('bamboo', `whsec_${randomBytes(24).toString('base64')}`);
    expect({ status: unknown.status, code: unknown.json?.['code'] }).toEqual({ status: 401, code: 'WEBHOOK_BAD_SIGNATURE' });
    expect({ persons: await h.count('persons'), deliveries: await h.count('webhook_deliveries') }).toEqual({ persons, deliveries: 1 });
    expect((await deliver('workday', WORKDAY)).status).toBe(200);
  });

  it('keeps replay ids per source: two senders using the same id both go through, a replay within one source is refused', async () => {
    const id = 'msg_shared_42';
    const bamboo = await deliver('bamboo', BAMBOO, id, { department: 'Sales' });
    expect(bamboo.json).toMatchObject({ status: 'changed', events: [{ kind: 'MOVER' }] });
    const workday = await deliver('workday', WORKDAY, id, { department: 'Legal' });
    expect(workday.json).toMatchObject({ status: 'changed', events: [{ kind: 'MOVER' }] });
    const replay = await deliver('bamboo', BAMBOO, id, { department: 'Sales' });
    expect({ status: replay.status, code: replay.json?.['code'] }).toEqual({ status: 409, code: 'WEBHOOK_REPLAYED' });
    expect(await h.db.query('SELECT source FROM hr_ingest.webhook_deliveries WHERE webhook_id = $1 ORDER BY source', [id])).toEqual([{ source: 'bamboo' }, { source: 'workday' }]);
  });
});
