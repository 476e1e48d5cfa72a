// Audit: ingest rows/s from Kafka into the hash-chained store (the service as a real process,
// least-privilege role, PII sealed per person, checkpoints running) and verification rows/s
// (the full recomputation behind GET /v1/verification); beside it the store alone (append of
// 1000-record batches in-process, no Kafka), which bounds what the service can reach.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { AUDIT_MIGRATIONS, ChainService, PersonKeyStore, RecordRepository } from '@provisio/audit/bench';
import { checkpointSigner, trustedKeys } from '@provisio/audit-domain';
import { uuidv7, type ConsumedMessage } from '@provisio/messaging';
import { Database } from '@provisio/persistence';
import pino from 'pino';
import { EventTypes, avroCodec, type LifecycleEvent, type PolicyDecision, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';
import { ServiceProcesses, createTestDatabase, createTestRole, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix } from '@provisio/testing';
import { fmt, median, pool, table } from './stats.ts';
import { createTopics } from './topics.ts';
import { loadAverageText, processCpuMs } from './proc.ts';

export interface AuditBenchOptions {
  records: number;
  runs: number;
  /** Write a V8 CPU profile of the audit process (and of the store-alone run) into this directory. */
  profileDir?: string | undefined;
}

interface RunFigures {
  ingestPerSec: number;
  verifyPerSec: number;
  wallSeconds: number;
  storePerSec: number;
  /** CPU time of the audit process per ingested row (µs), from the first to the last append seen; NaN without /proc. */
  ingestCpuUsPerRow: number;
  /** CPU time of this process per row of the store-alone run (µs). */
  storeCpuUsPerRow: number;
}

/** In the order the pipeline writes them: the policy's decision before the commands it produced. */
const TOPICS = ['hr.lifecycle', 'policy.decisions', 'provisioning.commands.ldap', 'provisioning.results'] as const;
/** Kafka records per person: one of each topic. */
const PER_PERSON = TOPICS.length;

/**
 * One person's joiner as the services write them (Avro, CloudEvents headers): the lifecycle
 * event; the policy's decision (one per evaluation that changed a desired state, written before
 * its commands, which name it in cause.decisionId); the command; the connector's result.
 */
function personRecords(i: number, base: number) {
  const codec = avroCodec();
  const personId = randomUUID();
  const traceparent = `00-${randomUUID().replace(/-/g, '')}-${'1'.repeat(16)}-01`;
  const event: LifecycleEvent = {
    eventId: randomUUID(), kind: 'JOINER', stage: 'EFFECTIVE', personId, effectiveAt: base, recordedAt: base,
    source: { system: 'bench', workerId: `W-${i}`, sequence: null, sourceTimestamp: null, batchId: null, channel: 'API' },
    attributes: {
      workerType: 'employee', status: 'active', userName: `user${i}`, givenName: 'Bench', familyName: `Person ${i}`, displayName: `Bench Person ${i}`, email: `user${i}@example.com`,
      employeeNumber: String(i), managerPersonId: null, department: 'Engineering', division: 'R&D', costCenter: 'CC-1', company: 'ACME', organization: null, location: 'Berlin', jobTitle: 'Engineer',
      countryCode: 'DE', hireDate: '2026-01-01', terminationDate: null, onLeave: null, custom: {},
    },
    changedAttributes: [],
    previousAttributes: null,
    reason: null,
    timeZone: null,
  };
  const commandId = uuidv7(base);
  const decisionId = uuidv7(base);
  // As policy explains a joiner into one LDAP target: a scope condition of three steps, two
  // birthright grants, an expression per attribute (docs/policy.md, the decision's bounds).
  const decision: PolicyDecision = {
    decisionId, personId,
    cause: { lifecycleEventId: event.eventId, lifecycleKind: 'JOINER', reason: 'lifecycle', hrEffectiveAt: base },
    policyVersion: 1, phase: 'ACTIVE',
    grants: [
      { kind: 'BIRTHRIGHT', rule: 'all-employees', assignment: null, role: 'staff', path: ['staff'], until: null },
      { kind: 'BIRTHRIGHT', rule: 'engineering', assignment: null, role: 'engineer', path: ['engineer', 'engineering'], until: null },
    ],
    grantsOmitted: 0,
    expressions: [
      { expression: 'userName', facts: ['userName'] },
      { expression: 'givenName', facts: ['givenName'] },
      { expression: 'familyName', facts: ['familyName'] },
      { expression: 'lower(email)', facts: ['email'] },
    ],
    targets: [{
      target: 'ldap-main', targetKind: 'ldap', commandId, version: 1, state: 'ACTIVE', accountName: `user${i}`, inScope: true, entitled: true, reason: 'active and entitled', error: null, targetRemoved: false,
      scope: [
        { depth: 0, op: 'all', attribute: null, expected: null, actual: null, result: true },
        { depth: 1, op: 'equals', attribute: 'workerType', expected: '"employee"', actual: '"employee"', result: true },
        { depth: 1, op: 'endsWith', attribute: 'email', expected: '"@example.com"', actual: `"user${i}@example.com"`, result: true },
      ],
      scopeStepsOmitted: 0,
      accountGrantedBy: [0, 1], accountSourcesOmitted: 0,
      groups: [{ group: 'staff', grantedBy: [0, 1], sourcesOmitted: 0 }, { group: 'engineering', grantedBy: [1], sourcesOmitted: 0 }],
      attributes: [
        { attribute: 'accountName', expression: 0, uniqueNamespace: 'uid' },
        { attribute: 'givenName', expression: 1, uniqueNamespace: null },
        { attribute: 'sn', expression: 2, uniqueNamespace: null },
        { attribute: 'mail', expression: 3, uniqueNamespace: null },
      ],
    }],
    decidedAt: base,
  };
  const command: ProvisioningCommand = {
    commandId, personId, target: 'ldap-main', targetKind: 'ldap', version: 1, state: 'ACTIVE', accountName: `user${i}`,
    attributes: { givenName: 'Bench', sn: `Person ${i}`, mail: `user${i}@example.com` }, groups: ['staff', 'engineering'],
    cause: { lifecycleEventId: event.eventId, lifecycleKind: 'JOINER', policyVersion: 1, reason: 'lifecycle', decisionId }, hrEffectiveAt: base, issuedAt: base,
  };
  const result: ProvisioningResult = {
    resultId: randomUUID(), commandId: command.commandId, personId, target: 'ldap-main', targetKind: 'ldap', version: 1, status: 'APPLIED',
    operations: [{ type: 'CREATE', detail: null }, { type: 'ADD_MEMBERSHIP', detail: 'staff' }, { type: 'ADD_MEMBERSHIP', detail: 'engineering' }],
    accountRef: randomUUID(), error: null, hrEffectiveAt: base, appliedAt: base,
  };
  const headers = (id: string, type: string) => ({ ce_specversion: '1.0', ce_id: id, ce_type: type, ce_source: '/provisio/bench', ce_subject: personId, ce_time: new Date(base).toISOString(), 'content-type': 'application/avro', traceparent });
  return [
    { key: personId, value: codec.encode('LifecycleEvent', event), headers: headers(event.eventId, EventTypes.lifecycle('JOINER')) },
    { key: personId, value: codec.encode('PolicyDecision', decision), headers: headers(decisionId, EventTypes.policyDecision) },
    { key: personId, value: codec.encode('ProvisioningCommand', command), headers: headers(command.commandId, EventTypes.command) },
    { key: personId, value: codec.encode('ProvisioningResult', result), headers: headers(result.resultId, EventTypes.result) },
  ];
}

async function produce(prefix: string, records: number): Promise<void> {
  const kafka = testKafka('bench-audit');
  await createTopics(TOPICS.map((t) => ({ topic: `${prefix}${t}`, partitions: 3 })));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const base = Date.now();
  const people = Math.ceil(records / PER_PERSON);
  for (let start = 0; start < people; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, people - start) }, (_, j) => personRecords(start + j, base));
    await producer.sendBatch({ acks: -1, topicMessages: TOPICS.map((t, k) => ({ topic: `${prefix}${t}`, messages: batch.map((p) => p[k]!) })) });
  }
  await producer.disconnect();
}

/**
 * The store alone: batches of 1000 consumed records (250 people) appended directly (no Kafka, no
 * service), 8 at a time like the consumer's partitions (they are appended together, as in the service).
 */
async function storeRate(records: number): Promise<{ perSec: number; cpuUsPerRow: number }> {
  const db = await createTestDatabase('benchauditstore');
  const database = await Database.open({ url: db.url, schema: 'audit', applicationName: 'bench-audit', migrations: AUDIT_MIGRATIONS, poolMax: 4 });
  try {
    const repo = new RecordRepository(database, 'audit', new PersonKeyStore('audit', randomBytes(32)), trustedKeys([]));
    const base = Date.now();
    const batches: ConsumedMessage<Buffer | null>[][] = [];
    let offset = 0;
    const peoplePerBatch = 1000 / PER_PERSON;
    for (let start = 0; start < records; start += 1000) {
      const batch: ConsumedMessage<Buffer | null>[] = [];
      for (let i = 0; i < peoplePerBatch; i++) {
        for (const m of personRecords(start / PER_PERSON + i, base)) batch.push({ topic: 'bench', partition: 0, offset: String(offset++), key: m.key, headers: m.headers, envelope: {}, value: m.value, timestamp: base });
      }
      batches.push(batch);
    }
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    let n = 0;
    await pool(batches, 8, async (b) => {
      const appended = await repo.append(b);
      n += appended;
    });
    const rate = n / ((performance.now() - started) / 1000);
    const cpu = process.cpuUsage(cpu0);
    // Sanity: what was appended verifies.
    const chain = new ChainService(database, repo, checkpointSigner(generateKeyPairSync('ed25519').privateKey), trustedKeys([]), pino({ level: 'silent' }));
    const report = await chain.verify();
    if (!report.ok) throw new Error(`store benchmark chain does not verify: ${JSON.stringify(report.problems.slice(0, 3))}`);
    return { perSec: rate, cpuUsPerRow: (cpu.user + cpu.system) / n };
  } finally {
    await database.close();
    await db.drop();
  }
}

async function oneRun(o: AuditBenchOptions): Promise<RunFigures & { rows: number }> {
  const store = await storeRate(Math.min(o.records, 30_000));
  const db = await createTestDatabase('benchaudit');
  const role = await createTestRole(db.url, 'bench_audit');
  const prefix = uniqueTopicPrefix();
  const services = new ServiceProcesses();
  try {
    await produce(prefix, o.records);
    const expected = Math.ceil(o.records / PER_PERSON) * PER_PERSON;
    const started = performance.now();
    const env = serviceTestEnv({ databaseUrl: role.url, topicPrefix: prefix, extra: { DATABASE_MIGRATION_URL: db.url, LOG_LEVEL: 'warn', ...(o.profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${o.profileDir}` } : {}) } });
    const audit = await services.start('audit', env);
    let firstSeen: { n: number; cpuMs: number } | undefined;
    let cpuMs = Number.NaN;
    for (;;) {
      const n = Number((await db.query<{ n: string | null }>('SELECT max(seq) AS n FROM audit.records'))[0]!.n ?? 0);
      if (n > 0 && !firstSeen) firstSeen = { n, cpuMs: processCpuMs(audit.child.pid) };
      if (n >= expected) {
        cpuMs = processCpuMs(audit.child.pid);
        break;
      }
      if (performance.now() - started > 600_000) throw new Error(`audit ingested ${n} of ${expected} records in 10 minutes`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const wallSeconds = (performance.now() - started) / 1000;
    // Sanity: every record of the mix was stored decoded (an undecodable one is stored raw with
    // its reason), one of each topic per person.
    const perTopic = await db.query<{ topic: string; n: string; raw: string }>('SELECT topic, count(*) AS n, count(decode_error) AS raw FROM audit.records GROUP BY topic ORDER BY topic');
    const people = String(expected / PER_PERSON);
    if (perTopic.length !== TOPICS.length || perTopic.some((t) => t.n !== people || t.raw !== '0')) throw new Error(`unexpected mix stored: ${JSON.stringify(perTopic)}`);
    // Throughput between the first and the last append (excludes process start and group join).
    const span = (await db.query<{ s: number }>('SELECT extract(epoch FROM max(recorded_at) - min(recorded_at))::float8 AS s FROM audit.records'))[0]!.s;
    const token = await mintToken(['audit:read']);
    const t0 = performance.now();
    const res = await fetch(`${audit.url}/v1/verification`, { headers: { authorization: `Bearer ${token}` } });
    const report = (await res.json()) as { ok: boolean; records: number };
    const verifySeconds = (performance.now() - t0) / 1000;
    if (!report.ok || report.records !== expected) throw new Error(`verification failed: ${JSON.stringify(report).slice(0, 500)}`);
    const ingestCpuUsPerRow = firstSeen && expected > firstSeen.n ? ((cpuMs - firstSeen.cpuMs) * 1000) / (expected - firstSeen.n) : Number.NaN;
    return { ingestPerSec: expected / Math.max(span, 0.001), verifyPerSec: expected / verifySeconds, wallSeconds, rows: expected, storePerSec: store.perSec, ingestCpuUsPerRow, storeCpuUsPerRow: store.cpuUsPerRow };
  } finally {
    await services.stopAll();
    await db.drop();
    await role.drop();
  }
}

export async function auditBench(o: AuditBenchOptions): Promise<void> {
  process.stdout.write(
    `audit: ${o.records} Kafka records per run (lifecycle/decision/command/result of ${Math.ceil(o.records / PER_PERSON)} people, ${TOPICS.length} topics × 3 partitions), ${o.runs} runs\n`,
  );
  const runs: RunFigures[] = [];
  for (let r = 1; r <= o.runs; r++) {
    const f = await oneRun(o);
    runs.push(f);
    process.stdout.write(
      `  run ${r}: ingest ${fmt(f.ingestPerSec)} rows/s (first→last append), ${fmt(f.rows / f.wallSeconds)} rows/s incl. start-up; store alone ${fmt(f.storePerSec)} rows/s; verification ${fmt(f.verifyPerSec)} rows/s; ` +
        `CPU per row: audit process ${fmt(f.ingestCpuUsPerRow)} µs while ingesting, store alone ${fmt(f.storeCpuUsPerRow)} µs; load ${loadAverageText()}\n`,
    );
  }
  const row = {
    'ingest rows/s (median)': fmt(median(runs.map((r) => r.ingestPerSec))),
    'ingest incl. start-up rows/s': fmt(median(runs.map((r) => o.records / r.wallSeconds))),
    'store alone rows/s': fmt(median(runs.map((r) => r.storePerSec))),
    'verification rows/s (median)': fmt(median(runs.map((r) => r.verifyPerSec))),
    'audit CPU µs/row (median)': fmt(median(runs.map((r) => r.ingestCpuUsPerRow))),
    'store alone CPU µs/row (median)': fmt(median(runs.map((r) => r.storeCpuUsPerRow))),
  };
  process.stdout.write(`\n${table([row])}\n`);
}
