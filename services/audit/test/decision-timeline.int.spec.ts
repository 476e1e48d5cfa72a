import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VerificationReport } from '@provisio/audit-domain';
import { EventTypes, Topics, avroCodec, type ProvisioningResult } from '@provisio/contracts';
import type { RunningService } from '@provisio/platform';
import { ServiceProcesses, createTestDatabase, lifecycleEvent, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import type { Producer } from 'kafkajs';
import { bootstrap } from '../src/bootstrap.js';
import type { RecordView } from '../src/api/audit-queries.js';

const POLICY = `apiVersion: provisio.dev/v1
kind: Policy
metadata: { name: audit-decisions }
targets:
  - id: dir
    kind: ldap
    scope: { all: [{ attribute: workerType, equals: employee }, { attribute: email, endsWith: "@example.com" }] }
    account: { name: "lower(concat(substring(givenName, 0, 1), familyName))" }
    attributes:
      cn: join(' ', givenName, familyName)
roles:
  - id: staff
    entitlements: { dir: { groups: [staff] } }
  - id: rnd
    includes: [staff]
    entitlements: { dir: { groups: [rnd] } }
birthright:
  - { id: all, when: { attribute: userName, exists: true }, grant: [staff] }
  - { id: rnd, when: { attribute: department, equals: "R&D" }, grant: [rnd] }
`;

type Payload = Record<string, unknown> & { targets?: Record<string, unknown>[] };

/**
 * The policy decision in the audit trail, through the real broker: the policy service (a real
 * process from its build) turns a joiner into a decision and its command, a connector's result
 * follows, and audit's timeline reads HR event → decision (with its explanation) → command →
 * result. The decision's personal data is sealed per person and gone after crypto-shredding.
 */
describe('audit timeline with the policy decision', () => {
  const services = new ServiceProcesses();
  let policyDb: TestDatabase;
  let auditDb: TestDatabase;
  let audit: RunningService;
  let producer: Producer;
  let prefix: string;
  let read: string;
  const personId = randomUUID();
  const traceId = randomUUID().replace(/-/g, '');
  const headers = (id: string, type: string) => ({
    ce_specversion: '1.0',
    ce_id: id,
    ce_type: type,
    ce_source: '/provisio/test',
    ce_subject: personId,
    ce_time: new Date().toISOString(),
    'content-type': 'application/avro',
    traceparent: `00-${traceId}-${'2'.repeat(16)}-01`,
  });

  const timeline = async (token = read): Promise<RecordView[]> => {
    const r = await fetch(`${audit.url}/v1/persons/${personId}/timeline`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { records: RecordView[] }).records;
  };

  beforeAll(async () => {
    [policyDb, auditDb] = await Promise.all([createTestDatabase('auditdecpolicy'), createTestDatabase('auditdec')]);
    prefix = uniqueTopicPrefix();
    const dir = mkdtempSync(join(tmpdir(), 'audit-decisions-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    // Policy first: it creates the topics it writes and reads, which audit then finds by pattern.
    await services.start('policy', serviceTestEnv({ databaseUrl: policyDb.url, topicPrefix: prefix, extra: { POLICY_PATH: join(dir, 'policy.yaml') } }));
    const admin = testKafka().admin();
    await admin.connect();
    const topics = await admin.listTopics();
    await admin.disconnect();
    expect(topics).toEqual(expect.arrayContaining([`${prefix}${Topics.policyDecisions}`, `${prefix}${Topics.commands('ldap')}`]));
    audit = await bootstrap(serviceTestEnv({ databaseUrl: auditDb.url, topicPrefix: prefix, extra: { DATABASE_MIGRATION_URL: auditDb.url } }));
    read = await mintToken(['audit:read'], { subject: 'auditor-1' });
    producer = testKafka().producer();
    await producer.connect();
  }, 150_000);

  afterAll(async () => {
    await producer?.disconnect();
    await services.stopAll();
    await audit?.close();
    await Promise.all([policyDb?.drop(), auditDb?.drop()]);
  });

  it("orders a joiner's timeline HR event → decision (with its explanation) → command → result", async () => {
    const now = Date.now();
    const joiner = lifecycleEvent(
      personId,
      'JOINER',
      { userName: 'ada.lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada.lovelace@example.com', department: 'R&D' },
      now,
      { system: 'workday', workerId: 'W-77' },
    );
    await producer.send({
      topic: `${prefix}${Topics.lifecycle}`,
      messages: [{ key: personId, value: avroCodec().encode('LifecycleEvent', joiner), headers: headers(joiner.eventId, EventTypes.lifecycle('JOINER')) }],
    });

    // The connector's part: apply the command and report.
    const command = await waitFor(async () => (await timeline()).find((r) => r.ceType === EventTypes.command), {
      timeoutMs: 60_000,
      what: 'the command in audit',
    });
    const c = command.payload as { commandId: string; version: number; target: string };
    const result: ProvisioningResult = {
      resultId: randomUUID(),
      commandId: c.commandId,
      personId,
      target: c.target,
      targetKind: 'ldap',
      version: c.version,
      status: 'APPLIED',
      operations: [
        { type: 'CREATE', detail: null },
        { type: 'ADD_MEMBERSHIP', detail: 'rnd' },
        { type: 'ADD_MEMBERSHIP', detail: 'staff' },
      ],
      accountRef: 'entry-1',
      error: null,
      hrEffectiveAt: now,
      appliedAt: Date.now(),
    };
    await producer.send({
      topic: `${prefix}${Topics.results}`,
      messages: [{ key: personId, value: avroCodec().encode('ProvisioningResult', result), headers: headers(result.resultId, EventTypes.result) }],
    });

    const records = await waitFor(
      async () => {
        const t = await timeline();
        return t.some((r) => r.ceType === EventTypes.result) ? t : undefined;
      },
      { timeoutMs: 30_000, what: 'the result in audit' },
    );
    expect(records.map((r) => r.ceType)).toEqual([EventTypes.lifecycle('JOINER'), EventTypes.policyDecision, EventTypes.command, EventTypes.result]);
    expect(records.map((r) => r.topic)).toEqual([Topics.lifecycle, Topics.policyDecisions, Topics.commands('ldap'), Topics.results]);
    const [event, decision, cmd, res] = records;
    const d = decision!.payload as Payload;
    // Indexed: the decision is its own entity, caused by the HR event; the command by the decision (and the event).
    expect(decision).toMatchObject({ entityId: d['decisionId'], causedBy: [joiner.eventId], schema: 'PolicyDecision v1', piiShredded: false, traceId });
    expect(cmd).toMatchObject({ schema: 'ProvisioningCommand v2', causedBy: [d['decisionId'], joiner.eventId].sort() });
    expect((cmd!.payload as { cause: unknown }).cause).toMatchObject({ decisionId: d['decisionId'], lifecycleEventId: joiner.eventId });
    expect(res!.causedBy).toEqual([c.commandId]);
    expect(event!.entityId).toBe(joiner.eventId);
    // The explanation, captured when the policy decided.
    expect(d).toMatchObject({
      personId,
      policyVersion: 1,
      phase: 'ACTIVE',
      cause: { lifecycleEventId: joiner.eventId, lifecycleKind: 'JOINER', reason: 'lifecycle', hrEffectiveAt: now },
    });
    expect(d.targets).toEqual([
      expect.objectContaining({
        target: 'dir',
        targetKind: 'ldap',
        commandId: c.commandId,
        version: 1,
        state: 'ACTIVE',
        accountName: 'alovelace',
        inScope: true,
        entitled: true,
        reason: 'active and entitled',
        scope: [
          { depth: 0, op: 'all', attribute: null, expected: null, actual: null, result: true },
          { depth: 1, op: 'equals', attribute: 'workerType', expected: '"employee"', actual: '"employee"', result: true },
          { depth: 1, op: 'endsWith', attribute: 'email', expected: '"@example.com"', actual: '"ada.lovelace@example.com"', result: true },
        ],
        groups: [
          { group: 'rnd', grantedBy: [expect.any(Number)], sourcesOmitted: 0 },
          { group: 'staff', grantedBy: [expect.any(Number), expect.any(Number)], sourcesOmitted: 0 },
        ],
        attributes: [
          { attribute: 'accountName', expression: 0, uniqueNamespace: null },
          { attribute: 'cn', expression: 1, uniqueNamespace: null },
        ],
      }),
    ]);
    expect(d['expressions']).toEqual([
      { expression: 'lower(concat(substring(givenName, 0, 1), familyName))', facts: ['givenName', 'familyName'] },
      { expression: "join(' ', givenName, familyName)", facts: ['givenName', 'familyName'] },
    ]);
    // Grants are listed once in the decision and referred to by index.
    const grants = d['grants'] as Record<string, unknown>[];
    const groups = (d.targets![0]!['groups'] as { group: string; grantedBy: number[] }[]).map((g) => [g.group, g.grantedBy.map((i) => grants[i])]);
    expect(groups).toEqual([
      ['rnd', [{ kind: 'BIRTHRIGHT', rule: 'rnd', assignment: null, role: 'rnd', path: ['rnd'], until: null }]],
      [
        'staff',
        expect.arrayContaining([
          { kind: 'BIRTHRIGHT', rule: 'all', assignment: null, role: 'staff', path: ['staff'], until: null },
          { kind: 'BIRTHRIGHT', rule: 'rnd', assignment: null, role: 'rnd', path: ['rnd', 'staff'], until: null },
        ]),
      ],
    ]);
    // Stored sealed: neither the account name nor the HR value the scope read is in the clear.
    const stored = await auditDb.query<{ text: string; payload: Buffer }>(`SELECT payload_json::text AS text, payload FROM audit.records WHERE topic = $1`, [
      `${Topics.policyDecisions}`,
    ]);
    expect(stored).toHaveLength(1);
    for (const secret of ['alovelace', 'ada.lovelace@example.com']) {
      expect(stored[0]!.text).not.toContain(secret);
      expect(stored[0]!.payload.toString('latin1')).not.toContain(secret);
    }
  }, 120_000);

  it("crypto-shredding hides the decision's personal data and keeps its reasons; the chain still verifies", async () => {
    const admin = await mintToken(['audit:read', 'audit:admin'], { subject: 'operator-1' });
    const shred = await fetch(`${audit.url}/v1/persons/${personId}/pii`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect(shred.status).toBe(200);
    const records = await timeline();
    const decision = records.find((r) => r.ceType === EventTypes.policyDecision)!;
    expect(decision.piiShredded).toBe(true);
    const target = (decision.payload as Payload).targets![0]!;
    expect(target).toMatchObject({
      accountName: null,
      scope: [{ op: 'all' }, { attribute: 'workerType', actual: null }, { attribute: 'email', expected: '"@example.com"', actual: null }],
      groups: [{ group: 'rnd' }, { group: 'staff' }],
      reason: 'active and entitled',
    });
    expect(JSON.stringify(decision.payload)).not.toMatch(/alovelace|ada\.lovelace/);
    // Causal order does not need the keys; the shredding itself is recorded last.
    expect(records.map((r) => r.ceType)).toEqual([
      EventTypes.lifecycle('JOINER'),
      EventTypes.policyDecision,
      EventTypes.command,
      EventTypes.result,
      'dev.provisio.audit.action.pii-shredded',
    ]);
    const report = await fetch(`${audit.url}/v1/verification`, { headers: { authorization: `Bearer ${read}` } });
    expect(((await report.json()) as VerificationReport).ok).toBe(true);
  }, 60_000);
});
