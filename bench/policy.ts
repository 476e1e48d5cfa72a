// Policy benchmarks: evaluation rate over 100k people with a realistic policy (50 rules, 200 roles,
// 5 targets), population re-evaluation through PostgreSQL, simulation of a candidate over the
// population, and a mover storm through the real broker (p99 lifecycle event → command).
import { randomUUID } from 'node:crypto';
import { avroCodec, EventTypes, type HrAttributes, type LifecycleEvent } from '@provisio/contracts';
import { evaluate, loadPolicyOrThrow, newPersonRecord, type PersonRecord } from '@provisio/policy-domain';
import { ServiceProcesses, createTestDatabase, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor } from '@provisio/testing';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, median, percentile, table } from './stats.ts';
import { loadAverageText, postgresCpuMs, processCpuMs } from './proc.ts';

export interface PolicyBenchOptions {
  persons: number;
  movers: number;
  runs: number;
}

const DEPARTMENTS = Array.from({ length: 40 }, (_, i) => `Dept${i}`);
const TITLES = ['Engineer', 'Senior Engineer', 'Manager', 'Clerk', 'Analyst', 'Director', 'Accountant', 'Designer'];
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'ES', 'IT'];
const TARGETS = ['dir', 'mail', 'db', 'crm', 'wiki'];
const KIND: Record<string, string> = { dir: 'ldap', mail: 'scim', db: 'postgres', crm: 'scim', wiki: 'scim' };

/** 5 targets, 200 roles (nested 3 deep), 50 birthright rules with mixed conditions, 2 SoD rules. */
export function realisticPolicy(extraGroup = ''): string {
  const lines = [
    'apiVersion: provisio.dev/v1',
    'kind: Policy',
    'metadata: { name: bench }',
    'lifecycle:',
    '  mover: { gracePeriod: 7d }',
    '  leaver: { retention: 90d }',
    'targets:',
  ];
  for (const t of TARGETS) {
    lines.push(`  - id: ${t}`, `    kind: ${KIND[t]}`);
    if (t === 'crm') lines.push('    scope: { attribute: department, in: [Dept1, Dept2, Dept3, Dept4, Dept5, Dept6, Dept7, Dept8] }');
    lines.push(
      '    account:',
      '      name:',
      "        value: lower(regexReplace(stripDiacritics(concat(substring(givenName, 0, 1), familyName)), '[^A-Za-z0-9]', ''))",
      `        unique: { namespace: ${t}-name, maxLength: 20 }`,
      '    attributes:',
      "      cn: join(' ', givenName, familyName)",
      "      mail: lower(concat(accountName, '@example.com'))",
      '      title: default(jobTitle, "staff")',
      '      dept: upper(department)',
      "      country: switch(countryCode, 'DE', 'Germany', 'FR', 'France', 'US', 'United States', 'Other')",
      "      start: formatDate(hireDate, 'yyyyMMdd')",
    );
  }
  lines.push(
    'roles:',
    '  - id: base',
    `    entitlements: { ${TARGETS.filter((t) => t !== 'crm')
      .map((t) => `${t}: { groups: [all${extraGroup}] }`)
      .join(', ')} }`,
  );
  for (let i = 0; i < 199; i++) {
    const t1 = TARGETS[i % 5]!;
    const t2 = TARGETS[(i + 2) % 5]!;
    const includes = i >= 10 ? `, includes: [r${i % 10}${i % 3 === 0 && i >= 20 ? `, r${10 + (i % 10)}` : ''}]` : '';
    lines.push(`  - { id: r${i}${includes}, entitlements: { ${t1}: { groups: [g${i}a, g${i}b] }, ${t2}: { groups: [g${i}c] } } }`);
  }
  lines.push('birthright:', '  - { id: everyone, when: { attribute: userName, exists: true }, grant: [base] }');
  for (let i = 0; i < 49; i++) {
    const when =
      i % 4 === 0
        ? `{ attribute: department, equals: Dept${i % 40} }`
        : i % 4 === 1
          ? `{ all: [{ attribute: department, in: [Dept${i % 40}, Dept${(i + 7) % 40}] }, { attribute: jobTitle, startsWith: ${TITLES[i % TITLES.length]} }] }`
          : i % 4 === 2
            ? `{ any: [{ attribute: countryCode, equals: ${COUNTRIES[i % 6]} }, { attribute: jobTitle, matches: '^(Senior|Lead) ' }] }`
            : `{ all: [{ attribute: hireDate, withinLast: 400d }, { not: { attribute: workerType, equals: contractor } }] }`;
    lines.push(`  - { id: b${i}, when: ${when}, grant: [r${(i * 4) % 199}, r${(i * 4 + 101) % 199}] }`);
  }
  lines.push(
    'sod:',
    '  - { id: s1, mode: flag, sets: [[{ role: r3 }], [{ role: r7 }]] }',
    '  - { id: s2, mode: prevent, sets: [[{ target: db, group: g5a }], [{ target: db, group: g9a }]] }',
  );
  return `${lines.join('\n')}\n`;
}

function attributes(i: number, dept = DEPARTMENTS[i % 40]!): HrAttributes {
  return {
    workerType: i % 9 === 0 ? 'contractor' : 'employee',
    status: 'active',
    userName: `u${i}@example.com`,
    givenName: `Given${i % 500}`,
    familyName: `Family${i % 3000}`,
    displayName: null,
    email: `u${i}@example.com`,
    employeeNumber: String(i),
    managerPersonId: null,
    department: dept,
    division: null,
    costCenter: null,
    company: null,
    organization: null,
    location: null,
    jobTitle: TITLES[i % TITLES.length]!,
    countryCode: COUNTRIES[i % 6]!,
    hireDate: new Date(Date.UTC(2025, i % 12, 1 + (i % 27))).toISOString().slice(0, 10),
    terminationDate: null,
    onLeave: null,
    custom: {},
  };
}

export function pureEvaluationRate(persons: number, explain = false): number {
  const { policy } = loadPolicyOrThrow([{ name: 'bench.yaml', content: realisticPolicy() }]);
  const records: PersonRecord[] = Array.from({ length: persons }, (_, i) => ({ ...newPersonRecord(`p${i}`, attributes(i)), startAt: 0 }));
  const now = Date.now();
  // Warm-up (JIT) on other people, so the figure is the steady-state rate.
  for (let i = 0; i < 2000; i++) {
    const person = { ...newPersonRecord(`w${i}`, attributes(i + 7)), startAt: 0 };
    evaluate(policy, { person, now, trigger: null, manual: [], exceptions: [], allocations: {}, previous: {} });
  }
  const started = performance.now();
  let groups = 0;
  for (const person of records) {
    const e = evaluate(policy, {
      person,
      now,
      trigger: null,
      manual: [],
      exceptions: [],
      allocations: Object.fromEntries(TARGETS.map((t) => [`${t}-name`, `x${person.personId}`])),
      previous: {},
      explain,
    });
    groups += e.targets.reduce((n, t) => n + (t.desired?.groups.length ?? 0), 0);
  }
  const seconds = (performance.now() - started) / 1000;
  if (groups === 0) throw new Error('the bench policy granted nothing');
  return persons / seconds;
}

function lifecycleEvent(personId: string, kind: LifecycleEvent['kind'], a: HrAttributes): LifecycleEvent {
  const now = Date.now();
  return {
    eventId: randomUUID(),
    kind,
    stage: 'EFFECTIVE',
    personId,
    effectiveAt: now,
    recordedAt: now,
    source: { system: 'bench', workerId: personId, sequence: null, sourceTimestamp: null, batchId: null, channel: 'API' },
    attributes: a,
    changedAttributes: [],
    previousAttributes: null,
    reason: null,
    timeZone: null,
  };
}

interface RunFigures {
  evalPerSec: number;
  reevalPerSec: number;
  /** Live movers during the re-evaluation: event → command latency. */
  liveP50: number;
  liveP99: number;
  liveCount: number;
  /** Until every person's commands of the new version were on Kafka (the relay drained the outbox). */
  publishedPerSec: number;
  simulationSec: number;
  moverP50: number;
  moverP99: number;
  moverPerSec: number;
  /** Pure evaluation with explanations (what a decision record costs on top), persons/s. */
  explainPerSec: number;
  /** CPU of the policy process / of all PostgreSQL processes per person, activation → every command on Kafka (µs). */
  reevalCpuUsPerPerson: number;
  reevalPgCpuUsPerPerson: number;
  /** The same per mover of the storm (µs). */
  stormCpuUsPerMover: number;
  stormPgCpuUsPerMover: number;
  load: string;
}

const progress = (line: string) => process.stderr.write(`[bench policy ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** A mover to another department: the storm moves person n by 17 departments, live movers by 29, so every mover changes something. */
function moverEvent(n: number, by = 17): LifecycleEvent {
  return lifecycleEvent(`p${n}`, 'MOVER', attributes(n, DEPARTMENTS[(n + by) % 40]));
}

async function oneRun(o: PolicyBenchOptions): Promise<RunFigures> {
  progress(`pure evaluation of ${o.persons} persons`);
  const evalPerSec = pureEvaluationRate(o.persons);
  const explainPerSec = pureEvaluationRate(o.persons, true);
  const db = await createTestDatabase('benchpolicy');
  const prefix = uniqueTopicPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'bench-policy-'));
  writeFileSync(join(dir, 'policy.yaml'), realisticPolicy());
  const services = new ServiceProcesses();
  const extra: Record<string, string> = { POLICY_PATH: join(dir, 'policy.yaml'), LOG_LEVEL: 'warn', DATABASE_POOL_MAX: '10' };
  // Profiling and tuning hooks: passed to the service as they are.
  for (const name of ['NODE_OPTIONS', 'POLICY_REEVALUATION_BATCH', 'POLICY_REEVALUATION_CONCURRENCY', 'POLICY_OUTBOX_BATCH']) {
    const v = process.env[`BENCH_${name}`];
    if (v !== undefined) extra[name] = v;
  }
  const service = await services.start('policy', serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra }));
  const kafka = testKafka('bench-policy');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // Latency = command log-append time − event produce time, for commands caused by our movers.
  const produced = new Map<string, number>();
  const latencies = new Map<string, number>();
  const consumer = kafka.consumer({ groupId: `${prefix}bench`, maxWaitTimeInMs: 50 });
  const send = async (events: LifecycleEvent[]) => {
    const now = Date.now();
    for (const e of events) {
      produced.set(e.eventId, now);
      moving.add(e.personId);
    }
    await producer.send({
      topic: `${prefix}hr.lifecycle`,
      acks: -1,
      messages: events.map((e) => ({
        key: e.personId,
        value: avroCodec().encode('LifecycleEvent', e),
        headers: { ce_id: e.eventId, ce_type: EventTypes.lifecycle(e.kind) },
      })),
    });
  };
  const latenciesOf = (ids: Set<string>) => [...ids].map((id) => latencies.get(id)).filter((x): x is number => x !== undefined);
  // Persons with an LDAP command of the new version (everyone has a directory account).
  const provisioned = new Set<string>();
  // Persons we sent movers for.
  const moving = new Set<string>();
  try {
    // Seed the population with facts only (no commands), then activate a version: the re-evaluator
    // evaluates every person through PostgreSQL and writes the commands to the outbox.
    progress(`seeding ${o.persons} persons`);
    // Facts only, marked as evaluated with the running version: the activation below is what evaluates them.
    const running = Number((await db.query<{ v: string }>('SELECT active_version AS v FROM policy.policy_state'))[0]!.v);
    await db.query(
      `INSERT INTO policy.persons (person_id, attributes, start_at, evaluated_version) SELECT 'p' || i, $1::jsonb || jsonb_build_object('userName', 'u' || i || '@example.com', 'familyName', 'Family' || (i % 3000), 'givenName', 'Given' || (i % 500), 'department', 'Dept' || (i % 40), 'jobTitle', (ARRAY['Engineer','Senior Engineer','Manager','Clerk','Analyst','Director','Accountant','Designer'])[1 + i % 8], 'countryCode', (ARRAY['DE','FR','US','GB','ES','IT'])[1 + i % 6], 'workerType', CASE WHEN i % 9 = 0 THEN 'contractor' ELSE 'employee' END, 'hireDate', to_char(make_date(2025, 1 + i % 12, 1 + i % 27), 'YYYY-MM-DD')), now() - interval '100 days', $3 FROM generate_series(0, $2 - 1) AS i`,
      [JSON.stringify(attributes(0)), o.persons, running],
    );
    await db.query('ANALYZE policy.persons');
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}provisioning.commands.ldap`, fromBeginning: false });
    let ready = false;
    consumer.on(consumer.events.GROUP_JOIN, () => void (ready = true));
    await consumer.run({
      eachMessage: async ({ message }) => {
        // Persons were seeded as evaluated: every LDAP command comes from the new version. Decode
        // only our movers' commands (the bench shares the cores with the service).
        const personId = message.key!.toString();
        provisioned.add(personId);
        if (!moving.has(personId)) return;
        const c = avroCodec().decode('ProvisioningCommand', message.value!);
        const t0 = c.cause.lifecycleEventId ? produced.get(c.cause.lifecycleEventId) : undefined;
        if (t0 !== undefined && !latencies.has(c.cause.lifecycleEventId!)) latencies.set(c.cause.lifecycleEventId!, Number(message.timestamp) - t0);
      },
    });
    await waitFor(async () => ready, { what: 'consumer ready' });

    const token = await mintToken(['policy:read', 'policy:write']);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    progress('activating a new version: re-evaluation of everyone, with live movers (10/s) meanwhile');
    const started = performance.now();
    const pid = service.child.pid;
    const cpu0 = processCpuMs(pid);
    const pg0 = postgresCpuMs();
    const activated = await fetch(`${service.url}/v1/policy/versions?activate=true`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ content: realisticPolicy('-v2'), name: 'v2.yaml' }),
    });
    if (activated.status !== 201) throw new Error(`activation answered ${activated.status}: ${await activated.text()}`);
    const live = new Set<string>();
    let complete = false;
    let lastReport = 0;
    const trickle = (async () => {
      // Live movers from the end of the population, each person once.
      for (let k = 0; !complete && k < o.persons; k++) {
        const e = moverEvent(o.persons - 1 - k, 29);
        live.add(e.eventId);
        await send([e]);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await waitFor(
      async () => {
        const r = (await (await fetch(`${service.url}/v1/policy/active`, { headers })).json()) as { reevaluation: { complete: boolean; remaining: number } };
        if (Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          progress(`re-evaluation: ${r.reevaluation.remaining} remaining`);
        }
        return (complete = r.reevaluation.complete);
      },
      { timeoutMs: 3_600_000, intervalMs: 500, what: 're-evaluation' },
    );
    const reevalPerSec = o.persons / ((performance.now() - started) / 1000);
    await trickle;
    await waitFor(async () => provisioned.size >= o.persons, { timeoutMs: 1_800_000, intervalMs: 200, what: `commands of the new version (${provisioned.size})` });
    const publishedPerSec = o.persons / ((performance.now() - started) / 1000);
    const reevalCpuUsPerPerson = ((processCpuMs(pid) - cpu0) * 1000) / o.persons;
    const reevalPgCpuUsPerPerson = ((postgresCpuMs() - pg0) * 1000) / o.persons;
    await waitFor(async () => latenciesOf(live).length >= live.size, { timeoutMs: 600_000, intervalMs: 200, what: 'commands of the live movers' });
    const liveLatencies = latenciesOf(live);

    progress('simulation of a candidate that changes everyone');
    const simStarted = performance.now();
    const sim = (await (
      await fetch(`${service.url}/v1/simulations?wait=true`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ content: realisticPolicy('-v3'), name: 'v3.yaml' }),
      })
    ).json()) as { status: string; summary: { personsAffected: number } };
    const simulationSec = (performance.now() - simStarted) / 1000;
    if (sim.status !== 'done' || sim.summary.personsAffected < o.persons * 0.9) throw new Error(`simulation ${sim.status}: ${JSON.stringify(sim.summary)}`);

    // Mover storm: movers produced as fast as the producer goes.
    progress(`mover storm: ${o.movers} movers`);
    const storm = new Set<string>();
    const stormStarted = performance.now();
    const stormCpu0 = processCpuMs(pid);
    const stormPg0 = postgresCpuMs();
    for (let i = 0; i < o.movers; i += 500) {
      const batch = Array.from({ length: Math.min(500, o.movers - i) }, (_, j) => moverEvent(i + j));
      for (const e of batch) storm.add(e.eventId);
      await send(batch);
    }
    await waitFor(async () => latenciesOf(storm).length >= o.movers, {
      timeoutMs: 3_600_000,
      intervalMs: 200,
      what: `${o.movers} mover commands (got ${latenciesOf(storm).length})`,
    });
    const moverPerSec = o.movers / ((performance.now() - stormStarted) / 1000);
    const stormCpuUsPerMover = ((processCpuMs(pid) - stormCpu0) * 1000) / o.movers;
    const stormPgCpuUsPerMover = ((postgresCpuMs() - stormPg0) * 1000) / o.movers;
    const stormLatencies = latenciesOf(storm);
    return {
      evalPerSec,
      reevalPerSec,
      liveP50: percentile(liveLatencies, 50),
      liveP99: percentile(liveLatencies, 99),
      liveCount: liveLatencies.length,
      publishedPerSec,
      simulationSec,
      moverP50: percentile(stormLatencies, 50),
      moverP99: percentile(stormLatencies, 99),
      moverPerSec,
      explainPerSec,
      reevalCpuUsPerPerson,
      reevalPgCpuUsPerPerson,
      stormCpuUsPerMover,
      stormPgCpuUsPerMover,
      load: loadAverageText(),
    };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect();
    await services.stopAll();
    await db.drop();
  }
}

export async function policyBench(o: PolicyBenchOptions): Promise<void> {
  process.stdout.write(`policy: ${o.persons} persons, realistic policy (50 rules, 200 roles, 5 targets), ${o.movers} movers, ${o.runs} runs\n`);
  const runs: RunFigures[] = [];
  for (let r = 1; r <= o.runs; r++) {
    const f = await oneRun(o);
    runs.push(f);
    process.stdout.write(
      `  run ${r}: evaluation ${fmt(f.evalPerSec)} persons/s; re-evaluation through PostgreSQL ${fmt(f.reevalPerSec)} persons/s, ` +
        `all commands on Kafka ${fmt(f.publishedPerSec)} persons/s ` +
        `(live movers meanwhile: ${f.liveCount}, event→command p50 ${fmt(f.liveP50)} ms, p99 ${fmt(f.liveP99)} ms); simulation ${fmt(f.simulationSec, 1)} s; ` +
        `mover storm ${fmt(f.moverPerSec)} movers/s, event→command p50 ${fmt(f.moverP50)} ms, p99 ${fmt(f.moverP99)} ms; ` +
        `evaluation with explanations ${fmt(f.explainPerSec)} persons/s; CPU per person (re-evaluation) policy ${fmt(f.reevalCpuUsPerPerson)} µs, PostgreSQL ${fmt(f.reevalPgCpuUsPerPerson)} µs; ` +
        `CPU per mover (storm) policy ${fmt(f.stormCpuUsPerMover)} µs, PostgreSQL ${fmt(f.stormPgCpuUsPerMover)} µs; load average ${f.load}\n`,
    );
  }
  const row = {
    'evaluation persons/s': fmt(median(runs.map((r) => r.evalPerSec))),
    're-evaluation persons/s (DB)': fmt(median(runs.map((r) => r.reevalPerSec))),
    '… all commands on Kafka': fmt(median(runs.map((r) => r.publishedPerSec))),
    'live p50/p99 ms (during re-eval)': `${fmt(median(runs.map((r) => r.liveP50)))} / ${fmt(median(runs.map((r) => r.liveP99)))}`,
    [`simulation s (${o.persons})`]: fmt(median(runs.map((r) => r.simulationSec)), 1),
    'storm movers/s': fmt(median(runs.map((r) => r.moverPerSec))),
    'storm p50/p99 ms': `${fmt(median(runs.map((r) => r.moverP50)))} / ${fmt(median(runs.map((r) => r.moverP99)))}`,
    'explain eval persons/s': fmt(median(runs.map((r) => r.explainPerSec))),
    'CPU µs/person re-eval (policy / PG)': `${fmt(median(runs.map((r) => r.reevalCpuUsPerPerson)))} / ${fmt(median(runs.map((r) => r.reevalPgCpuUsPerPerson)))}`,
    'CPU µs/mover storm (policy / PG)': `${fmt(median(runs.map((r) => r.stormCpuUsPerMover)))} / ${fmt(median(runs.map((r) => r.stormPgCpuUsPerMover)))}`,
  };
  process.stdout.write(`\n${table([row])}\n`);
}
