import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventTypes, Topics } from '@provisio/contracts';
import { projectRoot, startSecureKafka, type SecureKafka } from '@provisio/devstack';
import { ALL_PRINCIPALS, aclBindings, resolveTopics } from '@provisio/kafka-admin';
import { ServiceProcesses, createTestDatabase, freePort, mintToken, serviceTestEnv, waitFor, type TestDatabase } from '@provisio/testing';
import kafkajs, { Kafka, logLevel } from 'kafkajs';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ConfigResourceTypes, ResourcePatternTypes } = kafkajs;

/**
 * Kafka security on a real broker: a second, throwaway broker with only a SASL_SSL listener
 * (SCRAM-SHA-512 over TLS, certificates made here with openssl), the StandardAuthorizer and
 * allow.everyone.if.no.acl.found=false. The admin command applies the catalog's topics and ACLs,
 * the six services run as processes each with its own principal, a joiner goes all the way to a
 * PostgreSQL role, and what the catalog does not allow is refused by the broker.
 */
describe('Kafka security: SASL/SCRAM over TLS, one principal per service, least-privilege ACLs', () => {
  const secrets = mkdtempSync(join(tmpdir(), 'provisio-kafka-secrets-'));
  const services = new ServiceProcesses();
  const password = () => randomBytes(18).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x');
  const admin = { username: 'provisio-admin', password: password() };
  const passwords: Record<string, string> = Object.fromEntries(ALL_PRINCIPALS.map((p) => [`provisio-${p}`, password()]));
  let kafka: SecureKafka;
  let state: TestDatabase;
  let target: TestDatabase;
  const userName = `grace.${Date.now().toString(36)}`;
  const roleName = userName.replace('.', '_');

  const passwordFile = (user: string, pw: string) => {
    const f = join(secrets, `${user}.password`);
    writeFileSync(f, `${pw}\n`, { mode: 0o600 });
    return f;
  };
  /** The connection variables a service (or the admin command) gets in a secured deployment. */
  const kafkaEnv = (user: string, pw: string): Record<string, string> => ({
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_TOPIC_PREFIX: '',
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: kafka.tls.caFile,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD_FILE: passwordFile(user, pw),
  });
  /**
   * Protocol errors the probe clients met. kafkajs hides some behind its own errors (a refused
   * group becomes 'Failed to find group coordinator'), but logs the broker's answer at debug level.
   */
  const brokerErrors: string[] = [];
  const clientAs = (principal: string) =>
    new Kafka({
      brokers: kafka.brokers,
      clientId: `probe-${principal}`,
      logLevel: logLevel.DEBUG,
      logCreator: () => (entry) => {
        const e = entry.log['error'] as { type?: string } | string | undefined;
        if (e) brokerErrors.push(typeof e === 'string' ? e : (e.type ?? ''));
      },
      retry: { retries: 1 },
      ...kafka.clientFor(`provisio-${principal}`, passwords[`provisio-${principal}`]!),
    });
  const kafkaAdmin = (args: string[]) =>
    spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', join(projectRoot(), 'libs/shared/kafka-admin/dist/cli.js'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...kafkaEnv(admin.username, admin.password) }, encoding: 'utf8' });

  /** Every error type and message inside an error (kafkajs wraps protocol errors). */
  const describeError = (e: unknown): string => {
    const parts: string[] = [];
    const walk = (x: unknown, depth: number) => {
      if (!x || typeof x !== 'object' || depth > 4) return;
      const o = x as { name?: unknown; type?: unknown; message?: unknown; errors?: unknown[]; cause?: unknown; originalError?: unknown };
      if (typeof o.name === 'string' && o.name !== 'Error') parts.push(o.name);
      if (typeof o.type === 'string') parts.push(o.type);
      if (typeof o.message === 'string') parts.push(o.message);
      for (const inner of [...(Array.isArray(o.errors) ? o.errors : []), o.cause, o.originalError]) walk(inner, depth + 1);
    };
    walk(e, 0);
    return parts.join(' | ');
  };
  const refusal = async (p: Promise<unknown>): Promise<string> => {
    brokerErrors.length = 0;
    try {
      await p;
      return 'allowed';
    } catch (e) {
      return [describeError(e), ...brokerErrors].join(' | ');
    }
  };
  /** Tries to consume `topics` as `principal` (with a group of its own unless `groupId`): `read <topic>`, the refusal, or `nothing`. */
  let probes = 0;
  const consumeOutcome = async (principal: string, topics: string[], groupId = `${principal}-probe-${++probes}`): Promise<string> => {
    const consumer = clientAs(principal).consumer({ groupId, maxWaitTimeInMs: 100, retry: { retries: 0, restartOnFailure: async () => false } });
    await consumer.connect();
    brokerErrors.length = 0;
    try {
      const subscribed = await refusal(consumer.subscribe({ topics, fromBeginning: true }));
      if (subscribed !== 'allowed') return subscribed;
      return await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('nothing'), 20_000);
        const done = (s: string) => {
          clearTimeout(timer);
          resolve(s);
        };
        const failed = (e: unknown) => done([describeError(e), ...brokerErrors].join(' | '));
        consumer.on(consumer.events.CRASH, (e: { payload: { error: unknown } }) => failed(e.payload.error));
        consumer.run({ eachMessage: async ({ topic }) => done(`read ${topic}`) }).catch(failed);
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    const [port, controllerPort] = [await freePort(), await freePort()];
    kafka = await startSecureKafka({ name: `kafka-sasl-${process.pid}`, port, controllerPort, admin, users: passwords, heapMb: 1024 });
    // Topics and ACLs come from the admin command, as on a cluster without Strimzi.
    const applied = kafkaAdmin(['apply', '--replication-factor', '1']);
    expect({ status: applied.status, stderr: applied.stderr }).toEqual({ status: 0, stderr: '' });
    expect(applied.stdout).toContain('allow User:provisio-connector-postgres Read topic provisioning.commands.postgres');

    [state, target] = await Promise.all([createTestDatabase('sasl'), createTestDatabase('sasltarget')]);
    for (const s of ['audit', 'hr-ingest', 'policy', 'connector-postgres', 'connector-ldap', 'connector-scim']) {
      // Audit's replay producer runs as the replay principal, its consumer as audit (read-only on the pipeline).
      // Audit's own checkpoint timer is an hour here: the verification test takes the one checkpoint it counts.
      const replay: Record<string, string> =
        s === 'audit' ? { KAFKA_REPLAY_SASL_USERNAME: 'provisio-audit-replay', KAFKA_REPLAY_SASL_PASSWORD_FILE: passwordFile('provisio-audit-replay', passwords['provisio-audit-replay']!), AUDIT_CHECKPOINT_INTERVAL_MS: '3600000' } : {};
      const env = { ...serviceTestEnv({ databaseUrl: state.url, topicPrefix: '', extra: { TARGET_POSTGRES_URL: target.url, CONNECTOR_TARGETS: '[]', DATABASE_MIGRATION_URL: state.url } }), ...kafkaEnv(`provisio-${s}`, passwords[`provisio-${s}`]!), ...replay };
      await services.start(s, env);
    }
  }, 240_000);

  afterAll(async () => {
    const codes = await services.stopAll();
    await target?.query(`DROP ROLE IF EXISTS "${roleName}"`);
    await Promise.all([state?.drop(), target?.drop()]);
    await kafka?.stop();
    expect(Object.values(codes).every((c) => c === 'graceful')).toBe(true);
  }, 90_000);

  it('the admin command is idempotent: a second run plans no change and finds no drift', () => {
    const plan = kafkaAdmin(['plan', '--replication-factor', '1']);
    expect(plan.status).toBe(0);
    expect(plan.stdout.trim().split('\n').pop()).toBe('would change 0 item(s); 0 drift(s) left');
  });

  it('kafka-admin check exits 3 on a missing or extra ACL; apply restores, prunes only when asked, and exits 3 while anything is left', async () => {
    const superUser = new Kafka({ brokers: kafka.brokers, clientId: 'acl-drift', logLevel: logLevel.NOTHING, ...kafka.clientFor(admin.username, admin.password) }).admin();
    await superUser.connect();
    const acl = (operation: number) => ({
      principal: 'User:provisio-siem-reader',
      host: '*',
      operation,
      permissionType: AclPermissionTypes.ALLOW,
      resourceType: AclResourceTypes.TOPIC,
      resourceName: Topics.siem,
      resourcePatternType: ResourcePatternTypes.LITERAL,
    });
    try {
      // siem-reader loses its Read on audit.siem and gains a Write the catalog does not give it.
      await superUser.deleteAcls({ filters: [acl(AclOperationTypes.READ)] });
      await superUser.createAcls({ acl: [acl(AclOperationTypes.WRITE)] });
      const missing = `ACL missing: User:provisio-siem-reader Read topic ${Topics.siem}`;
      const extra = `ACL not in the catalog: User:provisio-siem-reader op WRITE on TOPIC ${Topics.siem}`;
      const check = await waitFor(
        async () => {
          const r = kafkaAdmin(['check', '--replication-factor', '1']);
          return r.stdout.includes(missing) && r.stdout.includes(extra) ? r : undefined;
        },
        { timeoutMs: 20_000, what: 'the ACL drift' },
      );
      expect({ status: check.status, lines: check.stdout.trim().split('\n') }).toEqual({ status: 3, lines: [`drift: ${missing}`, `drift: ${extra} (rerun with --prune-acls to remove)`, '2 difference(s) from the catalog'] });
      const applied = kafkaAdmin(['apply', '--replication-factor', '1']);
      expect({ status: applied.status, stderr: applied.stderr.trim() }).toEqual({ status: 3, stderr: `[kafka-admin] not applied: ${extra} (rerun with --prune-acls to remove)` });
      expect(applied.stdout).toContain(`allow User:provisio-siem-reader Read topic ${Topics.siem}`);
      const pruned = kafkaAdmin(['apply', '--replication-factor', '1', '--prune-acls']);
      expect({ status: pruned.status, stderr: pruned.stderr }).toEqual({ status: 0, stderr: '' });
      const clean = kafkaAdmin(['check', '--replication-factor', '1']);
      expect({ status: clean.status, stdout: clean.stdout.trim() }).toEqual({ status: 0, stdout: '0 difference(s) from the catalog' });
    } finally {
      await superUser.disconnect();
    }
  });

  it('runs the pipeline with every service on its own principal: joiner → PostgreSQL role, audited', async () => {
    const token = await mintToken(['hr:write', 'audit:read']);
    const res = await fetch(`${services.get('hr-ingest').url}/v1/sources/workday/workers/W-2001`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { userName: `${userName}@example.com`, givenName: 'Grace', familyName: 'Hopper', status: 'active' } }),
    });
    expect(res.status).toBe(200);
    const { personId } = (await res.json()) as { personId: string };
    await waitFor(async () => (await target.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [roleName]))[0], { timeoutMs: 45_000, what: `role ${roleName}` });
    const timeline = await waitFor(
      async () => {
        const r = await fetch(`${services.get('audit').url}/v1/persons/${personId}/timeline`, { headers: { authorization: `Bearer ${token}` } });
        const body = (await r.json()) as { records: { ceType: string }[] };
        return body.records.length >= 4 ? body.records : undefined;
      },
      { timeoutMs: 45_000, what: 'four audit records' },
    );
    // The decision went through policy's Write ACL on policy.decisions and audit's prefix Read ACL.
    expect(timeline.map((r) => r.ceType)).toEqual([EventTypes.lifecycle('JOINER'), EventTypes.policyDecision, EventTypes.command, EventTypes.result]);
  }, 120_000);

  it('lets `provisio-audit verify --kafka-checkpoints`, run as the audit principal, read the checkpoints audit published; a principal without the grant cannot', async () => {
    const keys = serviceTestEnv({ databaseUrl: state.url, topicPrefix: '' });
    const auditCli = (principal: string, args: string[]) =>
      spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', join(projectRoot(), 'services/audit/dist/cli.js'), ...args], {
        env: { PATH: process.env['PATH'] ?? '', DATABASE_URL: state.url, AUDIT_SIGNING_KEY: keys['AUDIT_SIGNING_KEY']!, AUDIT_PII_KEY: keys['AUDIT_PII_KEY']!, ...kafkaEnv(`provisio-${principal}`, passwords[`provisio-${principal}`]!) },
        encoding: 'utf8',
      });
    // A signed checkpoint of what the pipeline test recorded; audit's feed publishes it to audit.checkpoints.
    const taken = auditCli('audit', ['checkpoint']);
    expect({ status: taken.status, stderr: taken.stderr }).toEqual({ status: 0, stderr: '' });
    const stored = Number((await state.query<{ n: number }>('SELECT count(*)::int AS n FROM audit.checkpoints'))[0]!.n);
    expect(stored).toBeGreaterThanOrEqual(1);
    const superUser = new Kafka({ brokers: kafka.brokers, clientId: 'checkpoint-count', logLevel: logLevel.NOTHING, ...kafka.clientFor(admin.username, admin.password) }).admin();
    await superUser.connect();
    try {
      const published = async () => (await superUser.fetchTopicOffsets(Topics.checkpoints)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
      await waitFor(async () => (await published()) === stored, { timeoutMs: 30_000, what: `${stored} checkpoint(s) on ${Topics.checkpoints}` });
    } finally {
      await superUser.disconnect();
    }
    const databaseOnly = auditCli('audit', ['verify']);
    expect(databaseOnly.status).toBe(0);
    const withKafka = auditCli('audit', ['verify', '--kafka-checkpoints']);
    expect({ status: withKafka.status, stderr: withKafka.stderr }).toEqual({ status: 0, stderr: '' });
    const report = JSON.parse(withKafka.stdout) as { ok: boolean; problems: unknown[]; checkpoints: { total: number; verified: number } };
    expect(report).toMatchObject({ ok: true, problems: [] });
    // Every checkpoint on the topic was read and verified besides the database's own.
    expect(report.checkpoints.total).toBe((JSON.parse(databaseOnly.stdout) as { checkpoints: { total: number } }).checkpoints.total + stored);
    expect(report.checkpoints.verified).toBe(report.checkpoints.total);
    // The grant is what makes it work: as policy (no Read on audit.checkpoints) the same command fails.
    const refused = auditCli('policy', ['verify', '--kafka-checkpoints']);
    expect({ status: refused.status, refused: /Not authorized to access topics|TOPIC_AUTHORIZATION_FAILED/.test(refused.stderr) }).toEqual({ status: 1, refused: true });
  }, 90_000);

  it('lets each connector write what it produces: results and drift (its targets are empty here, so the services never do)', async () => {
    for (const k of ['ldap', 'scim', 'postgres']) {
      const producer = clientAs(`connector-${k}`).producer({ retry: { retries: 0 } });
      await producer.connect();
      try {
        for (const topic of [Topics.results, Topics.drift]) {
          expect({ k, topic, outcome: await refusal(producer.send({ topic, messages: [{ key: `probe-${k}`, value: 'write probe' }] })) }).toEqual({ k, topic, outcome: 'allowed' });
        }
        // ... and not what another service produces.
        expect({ k, outcome: await refusal(producer.send({ topic: Topics.lifecycle, messages: [{ key: 'p', value: 'forged' }] })) }).toEqual({ k, outcome: expect.stringMatching(/TOPIC_AUTHORIZATION_FAILED|Not authorized to access topics/) });
      } finally {
        await producer.disconnect();
      }
    }
    const policy = clientAs('policy').producer({ retry: { retries: 0 } });
    await policy.connect();
    expect(await refusal(policy.send({ topic: Topics.drift, messages: [{ key: 'p', value: 'forged' }] }))).toMatch(/Not authorized to access topics: \[Topic authorization failed\]/);
    await policy.disconnect();
  });

  it('refuses a connector reading the HR lifecycle topic', async () => {
    const consumer = clientAs('connector-postgres').consumer({ groupId: 'connector-postgres-probe' });
    await consumer.connect();
    try {
      await expect(consumer.subscribe({ topics: [Topics.lifecycle], fromBeginning: true })).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
    } finally {
      await consumer.disconnect();
    }
    // Nor can it see the topic exists.
    const a = clientAs('connector-postgres').admin();
    await a.connect();
    const visible = await a.listTopics();
    await a.disconnect();
    expect(visible).not.toContain(Topics.lifecycle);
    expect(visible).toEqual(expect.arrayContaining([Topics.commands('postgres'), Topics.results]));
  });

  it("refuses a connector reading another connector's commands, and anyone using another service's consumer group", async () => {
    expect(await consumeOutcome('connector-ldap', [Topics.commands('postgres')])).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    const a = clientAs('policy').admin();
    await a.connect();
    try {
      expect(await refusal(a.fetchOffsets({ groupId: 'policy', topics: [Topics.lifecycle] }))).toBe('allowed');
      expect(await refusal(a.fetchOffsets({ groupId: 'audit', topics: [Topics.lifecycle] }))).toMatch(/GROUP_AUTHORIZATION_FAILED/);
    } finally {
      await a.disconnect();
    }
  });

  it('refuses policy writing the audit topics, and hr-ingest writing commands', async () => {
    const producer = clientAs('policy').producer({ retry: { retries: 0 } });
    await producer.connect();
    for (const topic of [Topics.siem, Topics.checkpoints]) {
      expect(await refusal(producer.send({ topic, messages: [{ key: 'p', value: 'forged' }] }))).toMatch(/Not authorized to access topics: \[Topic authorization failed\]/);
    }
    await producer.disconnect();
    const hr = clientAs('hr-ingest').producer({ retry: { retries: 0 } });
    await hr.connect();
    expect(await refusal(hr.send({ topic: Topics.commands('postgres'), messages: [{ key: 'p', value: 'forged' }] }))).toMatch(/Not authorized to access topics/);
    await hr.disconnect();
  });

  it('refuses hr-ingest reading the command topics', async () => {
    for (const k of ['ldap', 'scim', 'postgres']) {
      expect({ topic: Topics.commands(k), outcome: await consumeOutcome('hr-ingest', [Topics.commands(k)]) }).toEqual({ topic: Topics.commands(k), outcome: expect.stringMatching(/TOPIC_AUTHORIZATION_FAILED/) });
    }
  });

  it("refuses a service joining another service's consumer group, even on a topic it may read", async () => {
    // policy may read hr.lifecycle, but not as a member of audit's or a connector's group.
    for (const group of ['audit', 'connector-postgres']) {
      expect({ group, outcome: await consumeOutcome('policy', [Topics.lifecycle], group) }).toEqual({ group, outcome: expect.stringMatching(/GROUP_AUTHORIZATION_FAILED/) });
    }
    // The connector may read its commands, only in its own group.
    expect(await consumeOutcome('connector-ldap', [Topics.commands('ldap')], 'policy')).toMatch(/GROUP_AUTHORIZATION_FAILED/);
  });

  it("keeps audit's ingest principal read-only on the pipeline; only the replay principal writes there, and nothing else", async () => {
    const forged = { key: `probe-${Date.now()}`, value: 'not an avro record' };
    const auditProducer = clientAs('audit').producer({ retry: { retries: 0 } });
    await auditProducer.connect();
    try {
      for (const topic of [Topics.lifecycle, Topics.commands('postgres'), `${Topics.lifecycle}.dlt`]) {
        expect({ topic, outcome: await refusal(auditProducer.send({ topic, messages: [forged] })) }).toEqual({ topic, outcome: expect.stringMatching(/Not authorized to access topics: \[Topic authorization failed\]/) });
      }
      // What it must write still works: its own output.
      expect(await refusal(auditProducer.send({ topic: Topics.siem, messages: [{ key: 'probe', value: '{}' }] }))).toBe('allowed');
    } finally {
      await auditProducer.disconnect();
    }
    const replayProducer = clientAs('audit-replay').producer({ retry: { retries: 0 } });
    await replayProducer.connect();
    try {
      expect(await refusal(replayProducer.send({ topic: Topics.commands('scim'), messages: [forged] }))).toBe('allowed');
      for (const topic of [Topics.siem, Topics.checkpoints, `${Topics.lifecycle}.dlt`]) {
        expect({ topic, outcome: await refusal(replayProducer.send({ topic, messages: [forged] })) }).toEqual({ topic, outcome: expect.stringMatching(/Not authorized to access topics: \[Topic authorization failed\]/) });
      }
    } finally {
      await replayProducer.disconnect();
    }
    // The replay principal reads nothing. It has no consumer group either, which would refuse
    // first (GROUP_AUTHORIZATION_FAILED) and hide the topic check: lend it one for the probe.
    const superUser = new Kafka({ brokers: kafka.brokers, clientId: 'replay-probe-group', logLevel: logLevel.NOTHING, ...kafka.clientFor(admin.username, admin.password) }).admin();
    await superUser.connect();
    const group = { principal: 'User:provisio-audit-replay', host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW, resourceType: AclResourceTypes.GROUP, resourceName: 'audit-replay-probe', resourcePatternType: ResourcePatternTypes.LITERAL };
    try {
      await superUser.createAcls({ acl: [group] });
      for (const topic of [Topics.lifecycle, Topics.commands('scim')]) {
        // Until the lent ACL is in effect, the group is refused.
        const outcome = await waitFor(
          async () => {
            const o = await consumeOutcome('audit-replay', [topic], 'audit-replay-probe');
            return /GROUP_AUTHORIZATION_FAILED/.test(o) ? undefined : o;
          },
          { timeoutMs: 30_000, what: 'the lent group ACL' },
        );
        expect({ topic, outcome }).toEqual({ topic, outcome: expect.stringMatching(/TOPIC_AUTHORIZATION_FAILED/) });
      }
    } finally {
      await superUser.deleteAcls({ filters: [group] });
      await superUser.disconnect();
    }
  });

  it('replays a dead letter through the audit API, produced as the replay principal', async () => {
    // A record policy cannot decode: it dead-letters it to hr.lifecycle.dlt, which audit records.
    const key = `replay-probe-${Date.now()}`;
    const p = clientAs('audit-replay').producer({ retry: { retries: 0 } });
    await p.connect();
    await p.send({ topic: Topics.lifecycle, messages: [{ key, value: 'not an avro record' }] });
    await p.disconnect();
    const token = await mintToken(['audit:read', 'audit:admin']);
    const auth = { authorization: `Bearer ${token}` };
    const dead = await waitFor(
      async () => {
        const r = await fetch(`${services.get('audit').url}/v1/dead-letters?topic=${Topics.lifecycle}.dlt&limit=1000`, { headers: auth });
        const body = (await r.json()) as { items: { seq: string; topic: string; key?: string | null }[] };
        return body.items.find((i) => i.topic === `${Topics.lifecycle}.dlt`);
      },
      { timeoutMs: 45_000, what: 'the dead letter in audit' },
    );
    const res = await fetch(`${services.get('audit').url}/v1/dead-letters/${dead.seq}/replay`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'security e2e' }) });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 202, body: expect.objectContaining({ seq: dead.seq, topic: Topics.lifecycle, replays: 1 }) });
  }, 90_000);

  it('refuses services managing the cluster: creating or deleting topics, altering configs, creating ACLs', async () => {
    const a = clientAs('hr-ingest').admin();
    await a.connect();
    try {
      expect(await refusal(a.createTopics({ topics: [{ topic: 'hr.rogue', numPartitions: 1, replicationFactor: 1 }] }))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
      expect(await refusal(a.deleteTopics({ topics: [Topics.lifecycle], timeout: 5000 }))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    } finally {
      await a.disconnect();
    }
    for (const principal of ['policy', 'audit', 'audit-replay']) {
      const admin = clientAs(principal).admin();
      await admin.connect();
      try {
        const deleted = await refusal(admin.deleteTopics({ topics: [Topics.results], timeout: 5000 }));
        const altered = await refusal(
          admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: Topics.lifecycle, configEntries: [{ name: 'retention.ms', value: '1000' }] }] }),
        );
        const acl = await refusal(
          admin.createAcls({
            acl: [
              {
                principal: `User:provisio-${principal}`,
                host: '*',
                operation: AclOperationTypes.ALL,
                permissionType: AclPermissionTypes.ALLOW,
                resourceType: AclResourceTypes.TOPIC,
                resourceName: Topics.lifecycle,
                resourcePatternType: ResourcePatternTypes.LITERAL,
              },
            ],
          }),
        );
        expect({ principal, deleted, altered, acl }).toEqual({
          principal,
          deleted: expect.stringMatching(/TOPIC_AUTHORIZATION_FAILED/),
          altered: expect.stringMatching(/TOPIC_AUTHORIZATION_FAILED/),
          acl: expect.stringMatching(/CLUSTER_AUTHORIZATION_FAILED/),
        });
      } finally {
        await admin.disconnect();
      }
    }
  });

  it('lets only audit read every topic: each other principal is refused a topic the catalog does not give it', async () => {
    const bindings = aclBindings();
    const everyTopic = resolveTopics({ replicationFactor: 1 }).map((t) => t.name).filter((n) => !n.startsWith('audit.'));
    const mayRead = (user: string, topic: string) =>
      bindings.some((b) => b.user === user && b.resourceType === 'topic' && b.operation === 'Read' && (b.patternType === 'literal' ? b.resourceName === topic : topic.startsWith(b.resourceName)));
    for (const principal of ALL_PRINCIPALS.filter((p) => p !== 'audit')) {
      // Prefer a topic the principal can see but not read (policy sees the command topics it writes).
      const forbidden = everyTopic.filter((t) => !mayRead(`provisio-${principal}`, t));
      const probe = forbidden.find((t) => bindings.some((b) => b.user === `provisio-${principal}` && b.resourceName === t)) ?? forbidden[0]!;
      expect({ principal, probe, outcome: await consumeOutcome(principal, [probe]) }).toEqual({ principal, probe, outcome: expect.stringMatching(/TOPIC_AUTHORIZATION_FAILED|GROUP_AUTHORIZATION_FAILED/) });
    }
    expect(everyTopic.every((t) => mayRead('provisio-audit', t))).toBe(true);
    expect(await consumeOutcome('audit', everyTopic)).toMatch(/^read /);
  });

  it('refuses a wrong password and a plain-text client', async () => {
    const wrong = new Kafka({ brokers: kafka.brokers, clientId: 'wrong', logLevel: logLevel.NOTHING, retry: { retries: 0 }, ...kafka.clientFor('provisio-policy', 'not-the-password') }).admin();
    await expect(wrong.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/i);
    // A client without TLS: the SASL_SSL listener never answers its plain-text request (the TLS
    // handshake fails and the broker closes the connection), so it fails at the connection, not
    // at authentication or authorization.
    const plain = new Kafka({ brokers: kafka.brokers, clientId: 'plain', logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 3000, retry: { retries: 0 } }).admin();
    const outcome = await refusal(plain.connect());
    await plain.disconnect().catch(() => undefined);
    expect(outcome).toMatch(/Closed connection|Connection (closed|error|timeout)|ECONNRESET|Request .*timed out|KafkaJSConnection(Closed)?Error|KafkaJSRequestTimeoutError/);
    expect(outcome).not.toMatch(/SASL|AUTHORIZATION|allowed/);
  });
});
