import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventTypes, Topics, avroCodec, type ProvisioningCommand } from '@provisio/contracts';
import { SERVICES } from '@provisio/devstack';
import { ServiceProcesses, createTestDatabase, createTestRole, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor, type TestDatabase, type TestRole } from '../src/index.js';

interface TimelineRecord {
  id: string;
  topic: string;
  ceType: string;
  traceId: string | null;
  payload: Record<string, unknown>;
}

/**
 * The walking skeleton through every service as real processes on the real broker and database:
 * a joiner posted to hr-ingest becomes a PostgreSQL role, and audit holds the whole causal chain.
 */
describe('end to end: joiner → PostgreSQL role, audited', () => {
  const services = new ServiceProcesses();
  let state: TestDatabase;
  let target: TestDatabase;
  let auditRole: TestRole;
  let prefix: string;
  // Roles are cluster-wide, unlike databases: every run uses a name of its own.
  const userName = `ada.${Date.now().toString(36)}`;
  const roleName = userName.replace('.', '_');

  beforeAll(async () => {
    [state, target] = await Promise.all([createTestDatabase('e2e'), createTestDatabase('e2etarget')]);
    prefix = uniqueTopicPrefix();
    const env = serviceTestEnv({ databaseUrl: state.url, topicPrefix: prefix, extra: { TARGET_POSTGRES_URL: target.url, CONNECTOR_TARGETS: '[]', LOG_LEVEL: 'info' } });
    // Audit runs as a role that may only INSERT and SELECT its rows; the owner migrates.
    auditRole = await createTestRole(state.url, 'e2e_audit');
    const auditEnv = { ...env, DATABASE_URL: auditRole.url, DATABASE_MIGRATION_URL: state.url, AUDIT_REQUIRE_LEAST_PRIVILEGE: 'true' };
    // Start in dependency order so every topic exists before its consumers subscribe.
    for (const s of ['audit', 'hr-ingest', 'policy', 'connector-postgres', 'connector-ldap', 'connector-scim']) await services.start(s, s === 'audit' ? auditEnv : env);
    expect(services.running.map((r) => r.name).sort()).toEqual(SERVICES.map((s) => s.name).sort());
  }, 180_000);

  afterAll(async () => {
    const codes = await services.stopAll();
    await target?.query(`DROP ROLE IF EXISTS "${roleName}"`);
    await Promise.all([state?.drop(), target?.drop()]);
    await auditRole?.drop();
    // Graceful shutdown on SIGTERM: every service exits by itself, none has to be killed.
    expect(codes).toEqual(Object.fromEntries(SERVICES.map((s) => [s.name, 'graceful'])));
  }, 60_000);

  it('creates the role and records HR event → policy decision → command → result in causal order under one trace id', async () => {
    const token = await mintToken(['hr:write', 'audit:read']);
    const res = await fetch(`${services.get('hr-ingest').url}/v1/sources/workday/workers/W-1001`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { userName: `${userName}@example.com`, givenName: 'Ada', familyName: 'Lovelace', status: 'active', department: 'R&D' } }),
    });
    expect(res.status).toBe(200);
    const { personId, events } = (await res.json()) as { personId: string; events: { kind: string }[] };
    expect(events).toEqual([expect.objectContaining({ kind: 'JOINER' })]);

    const role = await waitFor(async () => (await target.query<{ rolname: string; rolcanlogin: boolean; comment: string }>(
      `SELECT rolname, rolcanlogin, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
      [roleName],
    ))[0], { timeoutMs: 30_000, what: `role ${roleName}` });
    expect(role).toEqual({ rolname: roleName, rolcanlogin: true, comment: `provisio:managed person=${personId}` });

    const timeline = await waitFor(
      async () => {
        const r = await fetch(`${services.get('audit').url}/v1/persons/${personId}/timeline`, { headers: { authorization: `Bearer ${token}` } });
        const body = (await r.json()) as { records: TimelineRecord[] };
        return body.records.length >= 4 ? body.records : undefined;
      },
      { timeoutMs: 30_000, what: 'four audit records' },
    );
    expect(timeline.map((r) => r.ceType)).toEqual([EventTypes.lifecycle('JOINER'), EventTypes.policyDecision, EventTypes.command, EventTypes.result]);
    expect(timeline.map((r) => r.topic)).toEqual([Topics.lifecycle, Topics.policyDecisions, Topics.commands('postgres'), Topics.results]);
    const [event, decision, command, result] = timeline.map((r) => r.payload);
    expect(decision).toMatchObject({ personId, cause: { lifecycleEventId: event!['eventId'], lifecycleKind: 'JOINER', reason: 'lifecycle' }, phase: 'ACTIVE' });
    expect(command).toMatchObject({ personId, state: 'ACTIVE', accountName: roleName, version: 1, cause: { lifecycleEventId: event!['eventId'], decisionId: decision!['decisionId'] } });
    expect(decision!['targets']).toEqual(expect.arrayContaining([expect.objectContaining({ commandId: command!['commandId'], accountName: roleName, state: 'ACTIVE' })]));
    expect(result).toMatchObject({ personId, commandId: command!['commandId'], status: 'APPLIED', operations: [{ type: 'CREATE', detail: null }] });
    const traceIds = new Set(timeline.map((r) => r.traceId));
    expect(traceIds.size).toBe(1);
    expect([...traceIds][0]).toMatch(/^[0-9a-f]{32}$/);
  }, 90_000);

  it('connector-ldap and connector-scim consume their commands; a target they do not serve gets a FAILED result naming it', async () => {
    const producer = testKafka().producer();
    await producer.connect();
    for (const kind of ['ldap', 'scim']) {
      const command: ProvisioningCommand = {
        commandId: `cmd-${kind}`, personId: `person-${kind}`, target: kind, targetKind: kind, version: 1, state: 'ACTIVE', accountName: 'x', attributes: {}, groups: [],
        cause: { lifecycleEventId: null, lifecycleKind: null, policyVersion: 0, reason: 'test', decisionId: null }, hrEffectiveAt: null, issuedAt: Date.now(),
      };
      await producer.send({ topic: `${prefix}${Topics.commands(kind)}`, messages: [{ key: command.personId, value: avroCodec().encode('ProvisioningCommand', command), headers: { ce_id: command.commandId, ce_type: EventTypes.command } }] });
    }
    await producer.disconnect();
    const token = await mintToken(['audit:read']);
    for (const kind of ['ldap', 'scim']) {
      const records = await waitFor(async () => {
        const r = await fetch(`${services.get('audit').url}/v1/persons/person-${kind}/timeline`, { headers: { authorization: `Bearer ${token}` } });
        const body = (await r.json()) as { records: TimelineRecord[] };
        return body.records.find((x) => x.topic === Topics.results) ? body.records : undefined;
      }, { timeoutMs: 30_000, what: `${kind} result` });
      expect(records.find((x) => x.topic === Topics.results)!.payload).toMatchObject({
        targetKind: kind,
        status: 'FAILED',
        commandId: `cmd-${kind}`,
        error: { code: 'UNKNOWN_TARGET', retriable: false, message: expect.stringContaining(`target "${kind}" is not configured`) },
      });
    }
  }, 60_000);

  it('requires authentication on APIs but not on health and metrics', async () => {
    const hr = services.get('hr-ingest').url;
    expect((await fetch(`${hr}/v1/sources/workday/workers/W-1`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
    const wrongScope = await mintToken(['audit:read']);
    expect((await fetch(`${hr}/v1/sources/workday/workers/W-1`, { method: 'PUT', body: '{"attributes":{}}', headers: { 'content-type': 'application/json', authorization: `Bearer ${wrongScope}` } })).status).toBe(403);
    expect((await fetch(`${hr}/health/live`)).status).toBe(200);
    const metrics = await (await fetch(`${hr}/metrics`)).text();
    expect(metrics).toContain('provisio_outbox_published_total');
    const pgMetrics = await (await fetch(`${services.get('connector-postgres').url}/metrics`)).text();
    expect(pgMetrics).toMatch(/provisio_time_to_provision_seconds_count\{[^}]*kind="provision"[^}]*\} [1-9]/);
  });
});
