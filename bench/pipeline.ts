// Walking-skeleton benchmark: N joiners through hr-ingest → policy → connector-postgres (and
// audit), measured against the raw kafkajs produce→consume rate on the same broker in the same run.
import { randomBytes } from 'node:crypto';
import { avroCodec, type ProvisioningResult } from '@provisio/contracts';
import { ServiceProcesses, createTestDatabase, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix } from '@provisio/testing';
import { fmt, median, percentile, pool, table } from './stats.ts';
import { createTopics } from './topics.ts';

export interface PipelineOptions {
  joiners: number;
  concurrency: number;
  runs: number;
}

interface RunFigures {
  pipelinePerSec: number;
  p50Ms: number;
  p99Ms: number;
  rawPerSec: number;
}

/**
 * What kafkajs alone does on this broker: N keyed records (the pipeline's value size) produced
 * with acks=all by the idempotent producer in batches of 100, consumed by a group that joined
 * before the clock starts.
 */
async function rawKafkaRate(n: number, valueSize: number): Promise<number> {
  const kafka = testKafka('bench-raw');
  const topic = `${uniqueTopicPrefix()}raw`;
  await createTopics([{ topic, partitions: 3 }]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `${topic}-g`, maxWaitTimeInMs: 50 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  let received = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  await consumer.run({ eachBatch: async ({ batch }) => void ((received += batch.messages.length) >= n && done()) });
  await joined;
  const value = randomBytes(valueSize);
  const started = performance.now();
  for (let i = 0; i < n; i += 100) {
    const messages = Array.from({ length: Math.min(100, n - i) }, (_, j) => ({ key: `person-${i + j}`, value }));
    await producer.send({ topic, acks: -1, messages });
  }
  await all;
  const perSec = n / ((performance.now() - started) / 1000);
  await Promise.all([producer.disconnect(), consumer.disconnect()]);
  return perSec;
}

async function onePipelineRun(o: PipelineOptions, run: number): Promise<RunFigures> {
  const [state, target] = await Promise.all([createTestDatabase('bench'), createTestDatabase('benchtarget')]);
  const prefix = uniqueTopicPrefix();
  const services = new ServiceProcesses();
  const tag = randomBytes(3).toString('hex');
  try {
    const env = serviceTestEnv({ databaseUrl: state.url, topicPrefix: prefix, extra: { TARGET_POSTGRES_URL: target.url, LOG_LEVEL: 'warn', DATABASE_MIGRATION_URL: state.url } });
    for (const s of ['audit', 'hr-ingest', 'policy', 'connector-postgres']) await services.start(s, env);
    const token = await mintToken(['hr:write']);
    const hr = services.get('hr-ingest').url;

    const latencies: number[] = [];
    const consumer = testKafka('bench-results').consumer({ groupId: `${prefix}bench`, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}provisioning.results`, fromBeginning: true });
    let finished: () => void = () => undefined;
    const allApplied = new Promise<void>((r) => (finished = r));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const r: ProvisioningResult = avroCodec().decode('ProvisioningResult', message.value!);
        if (r.status === 'APPLIED' && r.hrEffectiveAt !== null) latencies.push(r.appliedAt - r.hrEffectiveAt);
        if (latencies.length >= o.joiners) finished();
      },
    });

    const started = performance.now();
    await pool(
      Array.from({ length: o.joiners }, (_, i) => i),
      o.concurrency,
      async (i) => {
        const res = await fetch(`${hr}/v1/sources/bench/workers/${tag}-${i}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            attributes: { userName: `b${tag}_${run}_${i}`, givenName: 'Bench', familyName: `Person ${i}`, status: 'active', department: 'Engineering' },
          }),
        });
        if (res.status !== 200) throw new Error(`hr-ingest answered ${res.status}: ${await res.text()}`);
      },
    );
    await allApplied;
    const seconds = (performance.now() - started) / 1000;
    await consumer.disconnect();
    const rawPerSec = await rawKafkaRate(o.joiners, 600);
    return { pipelinePerSec: o.joiners / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), rawPerSec };
  } finally {
    await services.stopAll();
    const roles = await target.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`b${tag}_%`]);
    for (const r of roles) await target.query(`DROP ROLE "${r.rolname}"`);
    await Promise.all([state.drop(), target.drop()]);
  }
}

export async function pipelineBench(o: PipelineOptions): Promise<void> {
  process.stdout.write(`pipeline: ${o.joiners} joiners per run, ${o.concurrency} HTTP requests in flight, ${o.runs} runs\n`);
  const runs: RunFigures[] = [];
  for (let r = 1; r <= o.runs; r++) {
    const f = await onePipelineRun(o, r);
    runs.push(f);
    process.stdout.write(
      `  run ${r}: ${fmt(f.pipelinePerSec)} joiners/s end to end, p50 ${fmt(f.p50Ms)} ms, p99 ${fmt(f.p99Ms)} ms; raw kafkajs ${fmt(f.rawPerSec)} msg/s\n`,
    );
  }
  const row = {
    'joiners/s (median)': fmt(median(runs.map((r) => r.pipelinePerSec))),
    'HR→target p50 ms': fmt(median(runs.map((r) => r.p50Ms))),
    'HR→target p99 ms': fmt(median(runs.map((r) => r.p99Ms))),
    'raw kafkajs msg/s': fmt(median(runs.map((r) => r.rawPerSec))),
    'pipeline / raw': fmt(median(runs.map((r) => r.pipelinePerSec / r.rawPerSec)), 3),
  };
  process.stdout.write(`\n${table([row])}\n`);
}
