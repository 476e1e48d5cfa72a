import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID, createPublicKey } from 'node:crypto';
import { checkpointSignatureProblem, trustedKeys, verifyExport, type SignedCheckpoint, type VerificationReport } from '@provisio/audit-domain';
import { avroCodec, type AuditCheckpoint } from '@provisio/contracts';
import type { RunningService } from '@provisio/platform';
import { createTestDatabase, createTestRole, mintToken, readTopic, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor, type TestDatabase, type TestRole } from '@provisio/testing';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.js';
import type { RecordView } from '../src/api/audit-queries.js';
import { ocsfValidators } from './ocsf-fixtures.js';
import { joinerRecords } from './records.js';

/**
 * The audit service through the real broker and PostgreSQL, running as a least-privilege role:
 * ingest by pattern (dead letters and undecodable bytes included), the database-enforced
 * append-only rules, causal timeline, signed checkpoints on Kafka, the OCSF feed, export and
 * offline verification, access at a time, dead-letter replay and crypto-shredding.
 */
describe('audit service', () => {
  let db: TestDatabase;
  let role: TestRole;
  let service: RunningService;
  let prefix: string;
  const personId = randomUUID();
  const data = joinerRecords(personId);
  let read: string;
  let admin: string;

  const get = async <T>(path: string, token = read): Promise<{ status: number; body: T }> => {
    const r = await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text()) as T };
  };

  beforeAll(async () => {
    db = await createTestDatabase('audit');
    role = await createTestRole(db.url, 'audit_app');
    prefix = uniqueTopicPrefix();
    const kafka = testKafka();
    const adminClient = kafka.admin();
    await adminClient.connect();
    await adminClient.createTopics({
      waitForLeaders: true,
      topics: ['hr.lifecycle', 'provisioning.commands.ldap', 'provisioning.commands.ldap.dlt', 'provisioning.results', 'connector.drift'].map((t) => ({ topic: `${prefix}${t}`, numPartitions: 2 })),
    });
    await adminClient.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}hr.lifecycle`, messages: [data.lifecycle] });
    await producer.send({ topic: `${prefix}provisioning.commands.ldap`, messages: [data.commandMessage] });
    await producer.send({ topic: `${prefix}provisioning.results`, messages: [data.resultMessage] });
    await producer.send({ topic: `${prefix}provisioning.commands.ldap.dlt`, messages: [data.deadLetter('provisioning.commands.ldap')] });
    await producer.send({ topic: `${prefix}connector.drift`, messages: [{ key: null, value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) }] });
    await producer.disconnect();
    service = await bootstrap(
      serviceTestEnv({
        databaseUrl: role.url,
        topicPrefix: prefix,
        extra: { DATABASE_MIGRATION_URL: db.url, AUDIT_REQUIRE_LEAST_PRIVILEGE: 'true', AUDIT_CHECKPOINT_INTERVAL_MS: '500', AUDIT_SIEM_POLL_MS: '200', AUDIT_SIEM_FORMATS: 'ocsf,cef,ecs' },
      }),
    );
    read = await mintToken(['audit:read'], { subject: 'auditor-1' });
    admin = await mintToken(['audit:read', 'audit:admin'], { subject: 'operator-1' });
    await waitFor(async () => (await db.query<{ n: string }>('SELECT count(*) AS n FROM audit.records'))[0]!.n === '5', { timeoutMs: 30_000, what: '5 audit records' });
  }, 90_000);

  afterAll(async () => {
    await service?.close();
    await db?.drop();
    await role?.drop();
  });

  it('stores every record once, undecodable bytes raw, and personal data only encrypted', async () => {
    const rows = await db.query<{ topic: string; decode_error: string | null; payload: Buffer | null; json: string | null; key_id: string | null }>(
      'SELECT topic, decode_error, payload, payload_json::text AS json, key_id FROM audit.records ORDER BY seq',
    );
    expect(rows.map((r) => r.topic).sort()).toEqual(['connector.drift', 'hr.lifecycle', 'provisioning.commands.ldap', 'provisioning.commands.ldap.dlt', 'provisioning.results']);
    const drift = rows.find((r) => r.topic === 'connector.drift')!;
    expect(drift.payload).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect(drift.decode_error).toMatch(/not Avro single-object encoding/);
    for (const r of rows.filter((x) => x.topic !== 'connector.drift')) {
      expect(r.key_id).not.toBeNull();
      for (const secret of ['Lovelace', 'ada@example.com', 'ada_lovelace']) {
        expect(r.json ?? '').not.toContain(secret);
        expect(r.payload!.toString('latin1')).not.toContain(secret);
      }
    }
    const positions = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit.record_positions');
    expect(positions[0]!.n).toBe('5');
  });

  it('lets the runtime role only insert and read; triggers stop even the owner from changing rows', async () => {
    const asRuntime = new pg.Client({ connectionString: role.url });
    await asRuntime.connect();
    try {
      for (const sql of ['UPDATE audit.records SET topic = topic', 'DELETE FROM audit.records', 'TRUNCATE audit.records', 'UPDATE audit.checkpoints SET seq = seq', 'DELETE FROM audit.record_positions']) {
        await expect(asRuntime.query(sql)).rejects.toMatchObject({ code: '42501' });
      }
      await expect(asRuntime.query('DROP TABLE audit.records')).rejects.toMatchObject({ code: '42501' });
      await expect(asRuntime.query('CREATE TABLE audit.sneaky (x int)')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await asRuntime.end();
    }
    // Row triggers fire per row: make sure there is a checkpoint row to try to delete.
    await waitFor(async () => (await db.query('SELECT 1 FROM audit.checkpoints')).length > 0, { what: 'a checkpoint' });
    const partition = (await db.query<{ relname: string }>("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'records' LIMIT 1"))[0]!.relname;
    for (const sql of ['UPDATE audit.records SET topic = topic', 'DELETE FROM audit.records', 'TRUNCATE audit.records', `TRUNCATE audit.${partition}`, 'DELETE FROM audit.checkpoints', 'UPDATE audit.record_positions SET seq = seq']) {
      await expect(db.query(sql).then(() => `${sql}: allowed`)).rejects.toThrow(/append-only/);
    }
  });

  it("returns a person's timeline in causal order with decrypted personal data and one trace id", async () => {
    const { status, body } = await get<{ records: RecordView[] }>(`/v1/persons/${personId}/timeline`);
    expect(status).toBe(200);
    const seqOf = (id: string) => body.records.findIndex((r) => r.entityId === id);
    expect(seqOf(data.event.eventId)).toBeLessThan(seqOf(data.command.commandId));
    expect(seqOf(data.command.commandId)).toBeLessThan(seqOf(data.result.resultId));
    const event = body.records.find((r) => r.entityId === data.event.eventId)!;
    expect(event.payload).toMatchObject({ attributes: { givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com' } });
    expect(event.piiShredded).toBe(false);
    expect(new Set(body.records.map((r) => r.traceId))).toEqual(new Set([data.traceId]));
    const dlt = body.records.find((r) => r.topic === 'provisioning.commands.ldap.dlt')!;
    expect(dlt.deadLetter).toMatchObject({ originalTopic: 'provisioning.commands.ldap', errorCode: 'LDAP_SCHEMA_VIOLATION', consumerGroup: 'connector-ldap' });
  });

  it('signs checkpoints, publishes them to Kafka, and verifies the chain', async () => {
    const cps = await waitFor(async () => {
      const r = await get<{ items: SignedCheckpoint[] }>('/v1/checkpoints');
      return r.body.items.find((c) => c.statement.seq >= 5) ? r.body.items : undefined;
    }, { what: 'a checkpoint covering the records' });
    const key = await get<{ publicKeyPem: string; keyId: string }>('/v1/checkpoints/public-key');
    const keys = trustedKeys([createPublicKey(key.body.publicKeyPem)]);
    for (const c of cps) expect(checkpointSignatureProblem(c, keys)).toBeNull();
    const published = await readTopic(`${prefix}audit.checkpoints`, 1);
    const onKafka = avroCodec().decode('AuditCheckpoint', published[0]!.value!) as AuditCheckpoint;
    expect(checkpointSignatureProblem({ statement: JSON.parse(onKafka.statement) as SignedCheckpoint['statement'], signature: onKafka.signature }, keys)).toBeNull();
    const report = await get<VerificationReport>('/v1/verification');
    expect(report.body).toMatchObject({ ok: true, firstBadPosition: null, problems: [] });
    expect(report.body.records).toBeGreaterThanOrEqual(5);
  });

  it('publishes OCSF events (valid against the class schemas) with stable ids and the trace id, plus CEF and ECS', async () => {
    const validators = ocsfValidators();
    const messages = await readTopic(`${prefix}audit.siem`, 2);
    const events = messages.map((m) => JSON.parse(m.value!.toString()) as { class_uid: number; activity_id: number; metadata: { uid: string; correlation_uid: string }; user: { name?: string }; group?: { name: string } });
    for (const e of events) {
      const validate = validators[e.class_uid]!;
      expect({ valid: validate(e), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
      expect(e.metadata.correlation_uid).toBe(data.traceId);
      expect(e.user.name).toBe('ada_lovelace');
    }
    expect(events.map((e) => [e.class_uid, e.activity_id]).sort()).toEqual([[3001, 1], [3006, 3]]);
    expect(messages[0]!.key!.toString()).toBe(personId);
    expect(messages[0]!.headers!['ce_id']!.toString()).toBe(events[0]!.metadata.uid);
    const cef = await readTopic(`${prefix}audit.siem.cef`, 2);
    expect(cef.map((m) => m.value!.toString()).every((l) => l.startsWith('CEF:0|Provisio|Provisio|'))).toBe(true);
    const ecs = await readTopic(`${prefix}audit.siem.ecs`, 2);
    expect(JSON.parse(ecs[0]!.value!.toString())).toMatchObject({ event: { category: ['iam'] }, trace: { id: data.traceId } });
  });

  it('exports a time range as JSON Lines that verifies offline with the public key', async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const r = await fetch(`${service.url}/v1/export?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${read}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await r.text()).split('\n');
    const key = await get<{ publicKeyPem: string }>('/v1/checkpoints/public-key');
    const report = verifyExport(lines, trustedKeys([createPublicKey(key.body.publicKeyPem)]));
    expect(report).toMatchObject({ ok: true, tailCovered: true });
    expect(report.recordsInRange).toBeGreaterThanOrEqual(5);
  });

  it('answers who had access to a target or entitlement at a time', async () => {
    const at = new Date(data.result.appliedAt + 1000).toISOString();
    const r = await get<{ grants: { personId: string; accountName: string; groups: string[]; since: string }[] }>(`/v1/access?target=ldap-main&entitlement=staff&at=${at}`);
    expect(r.status).toBe(200);
    expect(r.body.grants).toEqual([expect.objectContaining({ personId, accountName: 'ada_lovelace', groups: ['staff'], since: new Date(data.result.appliedAt).toISOString() })]);
    const before = await get<{ grants: unknown[] }>(`/v1/access?target=ldap-main&at=${new Date(data.result.appliedAt - 1000).toISOString()}`);
    expect(before.body.grants).toEqual([]);
  });

  it('searches with cursor pagination and rejects bad input naming the field', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body: { items: RecordView[]; nextCursor: string | null } } = await get(`/v1/records?person=${personId}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((x) => x.seq));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(new Set(seen).size).toBe(4);
    const byType = await get<{ items: RecordView[] }>('/v1/records?type=dev.provisio.lifecycle.*');
    expect(byType.body.items.map((x) => x.topic)).toEqual(['hr.lifecycle']);
    const bad = await get<{ details: { field: string; value?: string }[] }>('/v1/records?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([expect.objectContaining({ field: 'query.from', value: 'yesterday' })]);
    expect((await get<{ details: { field: string }[] }>('/v1/access')).body.details).toEqual([expect.objectContaining({ field: 'query.target' })]);
    expect((await get('/v1/records?cursor=zzz')).status).toBe(400);
    expect((await fetch(`${service.url}/v1/records`)).status).toBe(401);
    expect((await get('/v1/records', await mintToken(['hr:read']))).status).toBe(403);
    const openapi = (await (await fetch(`${service.url}/docs/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/v1/persons/{personId}/timeline', '/v1/access', '/v1/records', '/v1/failures', '/v1/dead-letters/{seq}/replay', '/v1/export', '/v1/verification']));
  });

  it('lists failures and replays a dead-lettered record back to its topic (audit:admin, once unless forced)', async () => {
    const failures = await get<{ items: RecordView[] }>('/v1/failures');
    const dlt = failures.body.items.find((x) => x.topic === 'provisioning.commands.ldap.dlt')!;
    expect(dlt).toBeDefined();
    const post = (token: string, body: unknown = {}) =>
      fetch(`${service.url}/v1/dead-letters/${dlt.seq}/replay`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(read)).status).toBe(403);
    const ok = await post(admin, { reason: 'schema fixed' });
    expect(ok.status).toBe(202);
    const outcome = (await ok.json()) as { actionSeq: number };
    expect(outcome).toEqual({ seq: dlt.seq, topic: 'provisioning.commands.ldap', replays: 1, actionSeq: expect.any(Number) });
    // The replay itself is on the chain: who replayed which record, where to, and why.
    const action = (await db.query<{ payload_json: Record<string, unknown>; ce_type: string; person_id: string }>('SELECT payload_json, ce_type, person_id FROM audit.records WHERE seq = $1', [outcome.actionSeq]))[0]!;
    expect(action).toEqual({
      ce_type: 'dev.provisio.audit.action.dead-letter-replayed',
      person_id: dlt.personId,
      payload_json: expect.objectContaining({ action: 'dead-letter-replayed', by: 'operator-1', replayedSeq: dlt.seq, topic: 'provisioning.commands.ldap', reason: 'schema fixed' }),
    });
    expect((await post(admin)).status).toBe(409);
    expect((await post(admin, { force: true })).status).toBe(202);
    const event = (await get<{ items: RecordView[] }>('/v1/records?topic=hr.lifecycle')).body.items[0]!;
    const notDlt = await fetch(`${service.url}/v1/dead-letters/${event.seq}/replay`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect(notDlt.status).toBe(400);
    expect((await fetch(`${service.url}/v1/dead-letters/999999/replay`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })).status).toBe(404);

    const replayed = await readTopic(`${prefix}provisioning.commands.ldap`, 3);
    const copy = replayed.find((m) => m.headers?.['provisio-replay-of']?.toString() === dlt.seq)!;
    expect(copy.headers!['provisio-replayed-by']!.toString()).toBe('operator-1');
    expect(copy.headers!['dlt-error-code']).toBeUndefined();
    expect(avroCodec().decode('ProvisioningCommand', copy.value!)).toMatchObject({ commandId: data.failedCommand.commandId, accountName: 'ada_lovelace' });
    // The replay comes back into audit like any record.
    await waitFor(async () => (await db.query("SELECT 1 FROM audit.records WHERE topic = 'provisioning.commands.ldap' AND headers->>'provisio-replay-of' IS NOT NULL")).length === 2, { what: 'replays audited' });
  });

  it('crypto-shreds a person: personal data unreadable, the chain still verifies', async () => {
    const r = await fetch(`${service.url}/v1/persons/${personId}/pii`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect(r.status).toBe(200);
    const shredded = (await r.json()) as { actionSeq: number };
    expect(shredded).toEqual({ personId, keysShredded: 1, actionSeq: expect.any(Number) });
    // The shredding is on the chain (who, when, which person), without a new key for the person.
    const action = (await db.query<{ payload_json: Record<string, unknown>; person_id: string; key_id: string | null }>('SELECT payload_json, person_id, key_id FROM audit.records WHERE seq = $1', [shredded.actionSeq]))[0]!;
    expect(action).toEqual({ person_id: personId, key_id: null, payload_json: expect.objectContaining({ action: 'pii-shredded', by: 'operator-1', keysShredded: 1 }) });
    const { body } = await get<{ records: RecordView[] }>(`/v1/persons/${personId}/timeline`);
    const event = body.records.find((x) => x.entityId === data.event.eventId)!;
    expect(event.piiShredded).toBe(true);
    expect(event.payload).toMatchObject({ eventId: data.event.eventId, attributes: { givenName: null, familyName: null, department: 'R&D' } });
    expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit.person_keys WHERE wrapped_key IS NOT NULL'))[0]!.n).toBe('0');
    const report = await get<VerificationReport>('/v1/verification');
    expect(report.body.ok).toBe(true);
  });
});
