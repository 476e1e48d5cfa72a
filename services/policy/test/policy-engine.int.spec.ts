import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventTypes, Topics, avroCodec, type LifecycleEvent, type PolicyDecision, type PolicyViolation, type ProvisioningCommand } from '@provisio/contracts';
import { createTestDatabase, lifecycleEvent, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import type { Consumer, Producer } from 'kafkajs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap } from '../src/bootstrap.js';

const POLICY = `apiVersion: provisio.dev/v1
kind: Policy
metadata: { name: it }
lifecycle:
  mover: { gracePeriod: 1h }
  leaver: { retention: 30d }
targets:
  - id: db
    kind: postgres
    account: { name: "lower(regexReplace(userName, '[^A-Za-z0-9]+', '_'))" }
  - id: dir
    kind: ldap
    scope: { attribute: workerType, equals: employee }
    account:
      name:
        value: lower(concat(substring(givenName, 0, 1), familyName))
        unique: { namespace: uid, maxLength: 12 }
    attributes:
      mail: concat(accountName, '@example.com')
roles:
  - id: staff
    entitlements: { db: {}, dir: { groups: [staff] } }
  - id: sales
    entitlements: { dir: { groups: [sales] } }
  - id: eng
    entitlements: { dir: { groups: [eng] }, db: { groups: [readonly] } }
  - id: maker
    entitlements: { dir: { groups: [pay-create] } }
  - id: approver
    entitlements: { dir: { groups: [pay-approve] } }
birthright:
  - { id: all, when: { attribute: userName, exists: true }, grant: [staff] }
  - { id: sales, when: { attribute: department, equals: Sales }, grant: [sales] }
  - { id: eng, when: { attribute: department, equals: Engineering }, grant: [eng] }
  - { id: makers, when: { attribute: jobTitle, equals: Clerk }, grant: [maker] }
  - { id: approvers, when: { attribute: custom.approver, equals: "yes" }, grant: [approver] }
sod:
  - id: maker-checker
    mode: prevent
    sets: [[{ role: maker }], [{ role: approver }]]
`;

const event = lifecycleEvent;

/**
 * The policy service through the real broker and PostgreSQL: lifecycle events in, commands out;
 * duplicates change nothing; bad policies are rejected with precise errors and leave the running
 * version alone; manual assignments, SoD and explanations over the API.
 */
describe('policy service on the real broker', () => {
  let db: TestDatabase;
  let prefix: string;
  let service: Awaited<ReturnType<typeof bootstrap>>;
  let producer: Producer;
  let consumer: Consumer;
  const commands: ProvisioningCommand[] = [];
  const violations: PolicyViolation[] = [];
  const decisions: PolicyDecision[] = [];
  let token: string;

  const send = async (e: LifecycleEvent) =>
    producer.send({
      topic: `${prefix}${Topics.lifecycle}`,
      messages: [{ key: e.personId, value: avroCodec().encode('LifecycleEvent', e), headers: { ce_id: e.eventId, ce_type: EventTypes.lifecycle(e.kind) } }],
    });
  const commandsFor = (personId: string, target?: string) => commands.filter((c) => c.personId === personId && (!target || c.target === target));
  const api = async (method: string, path: string, body?: unknown, type = 'application/json') => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await createTestDatabase('policy');
    prefix = uniqueTopicPrefix();
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    service = await bootstrap(
      serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { POLICY_PATH: join(dir, 'policy.yaml'), POLICY_SCHEDULER_POLL_MS: '200' } }),
    );
    token = await mintToken(['policy:read', 'policy:write']);
    const kafka = testKafka('policy-it');
    producer = kafka.producer();
    consumer = kafka.consumer({ groupId: `${prefix}reader`, maxWaitTimeInMs: 50 });
    await Promise.all([producer.connect(), consumer.connect()]);
    await consumer.subscribe({
      topics: [
        `${prefix}${Topics.commands('postgres')}`,
        `${prefix}${Topics.commands('ldap')}`,
        `${prefix}${Topics.policyViolations}`,
        `${prefix}${Topics.policyDecisions}`,
      ],
      fromBeginning: true,
    });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        if (topic.endsWith(Topics.policyViolations)) violations.push(avroCodec().decode('PolicyViolation', message.value!));
        else if (topic.endsWith(Topics.policyDecisions)) decisions.push(avroCodec().decode('PolicyDecision', message.value!));
        else commands.push(avroCodec().decode('ProvisioningCommand', message.value!));
      },
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([producer?.disconnect(), consumer?.disconnect()]);
    await service?.close();
    await db?.drop();
  });

  it('turns a joiner into one full-state command per target, and a duplicate or replayed event into nothing', async () => {
    const joiner = event('p-join', 'JOINER', { userName: 'John.Doe@x', department: 'Sales' });
    await send(joiner);
    await waitFor(async () => commandsFor('p-join').length === 2, { what: 'two commands' });
    expect(commandsFor('p-join', 'db')[0]).toMatchObject({
      version: 1,
      state: 'ACTIVE',
      accountName: 'john_doe_x',
      groups: [],
      targetKind: 'postgres',
      hrEffectiveAt: joiner.effectiveAt,
      cause: { lifecycleEventId: joiner.eventId, lifecycleKind: 'JOINER', policyVersion: 1, reason: 'lifecycle' },
    });
    expect(commandsFor('p-join', 'dir')[0]).toMatchObject({
      version: 1,
      state: 'ACTIVE',
      accountName: 'jdoe',
      groups: ['sales', 'staff'],
      attributes: { mail: 'jdoe@example.com' },
    });
    // One decision explains both commands, and both name it.
    await waitFor(async () => decisions.filter((d) => d.personId === 'p-join').length === 1, { what: 'the decision' });
    const decision = decisions.find((d) => d.personId === 'p-join')!;
    for (const c of commandsFor('p-join')) expect(c.cause.decisionId).toBe(decision.decisionId);
    expect(decision).toMatchObject({
      cause: { lifecycleEventId: joiner.eventId, lifecycleKind: 'JOINER', reason: 'lifecycle', hrEffectiveAt: joiner.effectiveAt },
      policyVersion: 1,
      phase: 'ACTIVE',
    });
    // Grants are listed once and referred to by index.
    const dirGrants = decision.targets.find((t) => t.target === 'dir')!;
    expect(dirGrants.groups.map((g) => decision.grants[g.grantedBy[0]!])).toEqual([
      { kind: 'BIRTHRIGHT', rule: 'sales', assignment: null, role: 'sales', path: ['sales'], until: null },
      { kind: 'BIRTHRIGHT', rule: 'all', assignment: null, role: 'staff', path: ['staff'], until: null },
    ]);
    expect(dirGrants.accountGrantedBy.map((i) => decision.grants[i]!.rule).sort()).toEqual(['all', 'sales']);
    expect(decision.targets.map((t) => [t.target, t.commandId, t.version]).sort()).toEqual(
      commandsFor('p-join')
        .map((c) => [c.target, c.commandId, c.version])
        .sort(),
    );
    expect(decision.targets.find((t) => t.target === 'dir')).toMatchObject({
      state: 'ACTIVE',
      accountName: 'jdoe',
      inScope: true,
      reason: 'active and entitled',
      scope: [{ depth: 0, op: 'equals', attribute: 'workerType', expected: '"employee"', actual: '"employee"', result: true }],
      groups: [
        { group: 'sales', grantedBy: [expect.any(Number)], sourcesOmitted: 0 },
        { group: 'staff', grantedBy: [expect.any(Number)], sourcesOmitted: 0 },
      ],
    });
    const dirTarget = decision.targets.find((t) => t.target === 'dir')!;
    expect(dirTarget.attributes.map((a) => ({ ...a, ...decision.expressions[a.expression] }))).toEqual([
      {
        attribute: 'accountName',
        expression: 'lower(concat(substring(givenName, 0, 1), familyName))',
        facts: ['givenName', 'familyName'],
        uniqueNamespace: 'uid',
      },
      { attribute: 'mail', expression: "concat(accountName, '@example.com')", facts: ['accountName'], uniqueNamespace: null },
    ]);
    // Same event again, an identical update, and an older (replayed) leaver: no command.
    await send(joiner);
    await send(event('p-join', 'UPDATE', { userName: 'John.Doe@x', department: 'Sales' }, joiner.recordedAt + 1));
    await send(event('p-join', 'LEAVER', { userName: 'John.Doe@x', status: 'terminated' }, joiner.recordedAt - 60_000));
    // A marker on the same key (same partition, so after all of the above): once it is applied,
    // everything before it was too, and the state still holds the joiner's commands.
    const marker = event('p-join', 'UPDATE', { userName: 'John.Doe@x', department: 'Sales' }, joiner.recordedAt + 2);
    await send(marker);
    await waitFor(
      async () =>
        (await db.query<{ t: Date }>(`SELECT last_recorded_at AS t FROM policy.persons WHERE person_id = 'p-join'`))[0]?.t.getTime() === marker.recordedAt,
      { what: 'marker applied' },
    );
    expect(await db.query(`SELECT target, version::int AS version FROM policy.target_accounts WHERE person_id = 'p-join' ORDER BY target`)).toEqual([
      { target: 'db', version: 1 },
      { target: 'dir', version: 1 },
    ]);
    // A second person with the same name gets the next unique uid.
    await send(event('p-twin', 'JOINER', { userName: 'jdoe2@x' }));
    await waitFor(async () => commandsFor('p-twin').length === 2, { what: 'twin commands' });
    expect(commandsFor('p-twin', 'dir')[0]!.accountName).toBe('jdoe2');
    expect(commandsFor('p-join')).toHaveLength(2);
    // The duplicate, the identical update and the replayed leaver issued no command: no decision either.
    expect(decisions.filter((d) => d.personId === 'p-join')).toHaveLength(1);
  });

  it('mover: new access at once, old access kept for the grace period (a pending timed action)', async () => {
    await send(event('p-move', 'JOINER', { userName: 'mover@x', givenName: 'Mo', familyName: 'Ver', department: 'Sales' }));
    await waitFor(async () => commandsFor('p-move', 'dir').length === 1, { what: 'joiner command' });
    await send(event('p-move', 'MOVER', { userName: 'mover@x', givenName: 'Mo', familyName: 'Ver', department: 'Engineering' }));
    // Commands of one person on two topics: the reader may see either first, so wait for both.
    await waitFor(async () => commandsFor('p-move', 'dir').length === 2 && commandsFor('p-move', 'db').length === 2, { what: 'mover commands' });
    expect(commandsFor('p-move', 'dir')[1]).toMatchObject({ version: 2, groups: ['eng', 'sales', 'staff'] });
    expect(commandsFor('p-move', 'db')[1]).toMatchObject({ version: 2, groups: ['readonly'] });
    const explain = await api('GET', '/v1/persons/p-move/explain');
    expect(explain.status).toBe(200);
    const dir = (
      explain.body['targets'] as unknown as { target: string; graceUntil: Record<string, string>; groups: { name: string; sources: unknown[] }[] }[]
    ).find((t) => t.target === 'dir')!;
    expect(Object.keys(dir.graceUntil)).toEqual(['sales']);
    expect(dir.groups.find((g) => g.name === 'eng')!.sources).toEqual([{ kind: 'birthright', rule: 'eng', role: 'eng', path: ['eng'] }]);
    expect(explain.body['pendingActions']).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: 'remove-group-after-grace', target: 'dir', detail: 'sales' })]),
    );
    const jobs = await db.query<{ job_key: string; status: string }>(`SELECT job_key, status FROM policy.scheduled_jobs WHERE job_key = 'p-move'`);
    expect(jobs).toEqual([{ job_key: 'p-move', status: 'pending' }]);
  });

  it('leaver: disabled with memberships removed at once', async () => {
    await send(event('p-move', 'LEAVER', { userName: 'mover@x', givenName: 'Mo', familyName: 'Ver', department: 'Engineering', status: 'terminated' }));
    // Commands of one person on two topics: the reader may see either first.
    await waitFor(async () => commandsFor('p-move', 'dir').length === 3 && commandsFor('p-move', 'db').length === 3, { what: 'leaver commands' });
    expect(commandsFor('p-move', 'dir')[2]).toMatchObject({ version: 3, state: 'DISABLED', groups: [] });
    expect(commandsFor('p-move', 'db')[2]).toMatchObject({ version: 3, state: 'DISABLED' });
  });

  it('prevents an SoD conflict with a violation event; an exception allows it until revoked', async () => {
    await send(event('p-sod', 'JOINER', { userName: 'sod@x', givenName: 'So', familyName: 'D', jobTitle: 'Clerk' }));
    await waitFor(async () => commandsFor('p-sod', 'dir').length === 1, { what: 'maker' });
    await send(event('p-sod', 'UPDATE', { userName: 'sod@x', givenName: 'So', familyName: 'D', jobTitle: 'Clerk', custom: { approver: 'yes' } }));
    await waitFor(async () => violations.some((v) => v.personId === 'p-sod'), { what: 'violation event' });
    expect(violations.find((v) => v.personId === 'p-sod')).toMatchObject({
      ruleId: 'maker-checker',
      mode: 'PREVENT',
      status: 'PREVENTED',
      dropped: ['role:approver'],
    });
    expect(commandsFor('p-sod', 'dir')).toHaveLength(1);
    const exception = await api('POST', '/v1/sod/exceptions', {
      personId: 'p-sod',
      ruleId: 'maker-checker',
      approver: 'cfo',
      reason: 'quarter close',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(exception.status).toBe(201);
    await waitFor(async () => commandsFor('p-sod', 'dir').length === 2, { what: 'excepted grant' });
    expect(commandsFor('p-sod', 'dir')[1]!.groups).toContain('pay-approve');
    expect(commandsFor('p-sod', 'dir')[1]!.cause.reason).toBe('sod-exception');
    expect((await api('DELETE', `/v1/sod/exceptions/${exception.body['id'] as string}`, { reason: 'closed' })).status).toBe(200);
    await waitFor(async () => commandsFor('p-sod', 'dir').length === 3, { what: 'revoked exception' });
    expect(commandsFor('p-sod', 'dir')[2]!.groups).not.toContain('pay-approve');
    expect(
      (
        await api('POST', '/v1/sod/exceptions', {
          personId: 'p-sod',
          ruleId: 'nope',
          approver: 'cfo',
          reason: 'x y z',
          expiresAt: new Date(Date.now() + 1000).toISOString(),
        })
      ).body,
    ).toMatchObject({ code: 'UNKNOWN_REFERENCE' });
  });

  it('manual assignments grant at once and are removed at expiry by the scheduler', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await api('POST', '/v1/persons/p-twin/assignments', { target: 'dir', group: 'vpn', reason: 'on call', expiresAt });
    expect(created.status).toBe(201);
    await waitFor(async () => commandsFor('p-twin', 'dir').length === 2, { what: 'manual grant' });
    expect(commandsFor('p-twin', 'dir')[1]).toMatchObject({ groups: ['sales', 'staff', 'vpn'], cause: { reason: 'manual-assignment' } });
    await waitFor(async () => commandsFor('p-twin', 'dir').length === 3, { timeoutMs: 15_000, what: 'expiry' });
    expect(commandsFor('p-twin', 'dir')[2]).toMatchObject({ groups: ['sales', 'staff'], cause: { reason: 'scheduled' } });
    const list = await api('GET', '/v1/persons/p-twin/assignments');
    expect((list.body['assignments'] as unknown as { status: string }[])[0]!.status).toBe('expired');
    expect((await api('POST', '/v1/persons/nobody/assignments', { role: 'staff', reason: 'why not' })).status).toBe(404);
    expect((await api('POST', '/v1/persons/p-twin/assignments', { role: 'ghost', reason: 'why not' })).status).toBe(400);
  });

  it('rejects a bad policy with file, line and rule; the running version stays active', async () => {
    const bad = POLICY.replace('grant: [sales] }', 'grant: [saless] }').replace('concat(accountName', 'concatt(accountName');
    const validated = await api('POST', '/v1/policy/validate?name=bad.yaml', bad, 'application/yaml');
    expect(validated.body['valid']).toBe(false);
    expect(validated.body['problems']).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'bad.yaml', line: 33, column: 74, rule: 'reference.unknown-role', path: 'birthright[1].grant[0]' }),
        expect.objectContaining({ file: 'bad.yaml', line: 19, column: 13, rule: 'expression.unknown-function', path: 'targets[1].attributes.mail' }),
      ]),
    );
    const created = await api('POST', '/v1/policy/versions?activate=true&name=bad.yaml', bad, 'application/yaml');
    expect(created.status).toBe(422);
    expect(created.body).toMatchObject({ code: 'INVALID_POLICY' });
    expect((await api('GET', '/v1/policy/active')).body).toMatchObject({ version: 1 });
    expect(((await api('GET', '/v1/policy/versions')).body['versions'] as unknown as unknown[]).length).toBe(1);
  });

  it('a new version re-evaluates everyone (commands with reason policy-change); simulate emits nothing; rollback restores', async () => {
    const v2 = POLICY.replace('entitlements: { db: {}, dir: { groups: [staff] } }', 'entitlements: { db: {}, dir: { groups: [staff, everyone] } }');
    const before = commands.length;
    const sim = await api('POST', '/v1/simulations?wait=true', { content: v2, name: 'v2.yaml' });
    expect(sim.status).toBe(201);
    expect(sim.body).toMatchObject({ status: 'done', baseVersion: 1 });
    const summary = sim.body['summary'] as unknown as { targets: { target: string; groupsAdded: Record<string, number> }[] };
    expect(summary.targets.find((t) => t.target === 'dir')!.groupsAdded).toEqual({ everyone: 3 });
    const changes = await api('GET', `/v1/simulations/${sim.body['id'] as string}/changes?target=dir`);
    expect((changes.body['changes'] as unknown as { personId: string }[]).map((c) => c.personId).sort()).toEqual(['p-join', 'p-sod', 'p-twin']);
    expect(commands.length).toBe(before);

    const created = await api('POST', '/v1/policy/versions?activate=true', { content: v2, comment: 'everyone group' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ version: 2, created: true });
    await waitFor(async () => commandsFor('p-join', 'dir').length === 2 && commandsFor('p-sod', 'dir').length === 4, { what: 're-evaluation' });
    expect(commandsFor('p-join', 'dir')[1]).toMatchObject({
      version: 2,
      groups: ['everyone', 'sales', 'staff'],
      cause: { reason: 'policy-change', policyVersion: 2 },
      hrEffectiveAt: null,
    });
    // Re-evaluated without explanations first, then explained for the persons that changed: the
    // decision names the new version, no lifecycle event, and the group the new version grants.
    const reevaluated = commandsFor('p-join', 'dir')[1]!;
    const decision = await waitFor(async () => decisions.find((d) => d.decisionId === reevaluated.cause.decisionId), { what: 'the policy-change decision' });
    expect(decision).toMatchObject({
      personId: 'p-join',
      policyVersion: 2,
      cause: { lifecycleEventId: null, lifecycleKind: null, reason: 'policy-change', hrEffectiveAt: null },
    });
    const dirDecision = decision.targets.find((t) => t.target === 'dir')!;
    expect(dirDecision).toMatchObject({ commandId: reevaluated.commandId, version: 2 });
    expect(dirDecision.groups.find((g) => g.group === 'everyone')!.grantedBy.map((i) => decision.grants[i])).toEqual([
      { kind: 'BIRTHRIGHT', rule: 'all', assignment: null, role: 'staff', path: ['staff'], until: null },
    ]);
    await waitFor(async () => ((await api('GET', '/v1/policy/active')).body['reevaluation'] as unknown as { complete: boolean }).complete, {
      what: 're-evaluation complete',
    });

    expect((await api('POST', '/v1/policy/rollback', { reason: 'oops' })).body).toMatchObject({ version: 1, kind: 'rollback' });
    await waitFor(async () => commandsFor('p-join', 'dir').length === 3, { what: 'rollback re-evaluation' });
    expect(commandsFor('p-join', 'dir')[2]).toMatchObject({ version: 3, groups: ['sales', 'staff'], cause: { policyVersion: 1 } });
  });

  it('requires policy:read / policy:write', async () => {
    const reader = await mintToken(['policy:read']);
    const res = await fetch(`${service.url}/v1/policy/rollback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(403);
    // Simulations (the whole population, twice) and validation need policy:write too.
    for (const path of ['/v1/simulations?wait=true', '/v1/policy/validate']) {
      const r = await fetch(`${service.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: POLICY }),
      });
      expect([path, r.status]).toEqual([path, 403]);
    }
    expect((await fetch(`${service.url}/v1/policy/versions`)).status).toBe(401);
  });
});
