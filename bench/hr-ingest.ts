// hr-ingest CSV snapshot benchmark: a generated N-row CSV file streamed to hr-ingest (a real
// process from the build) → lifecycle events counted on Kafka. Measures end to end (upload start
// → last event on the topic): rows/s for a first import (N joiners) and for a second run of the
// same population with 1 % of the rows changed, the events emitted, and hr-ingest's peak RSS
// (VmHWM), for N rows and for a file a tenth of the size in a fresh process (memory flat in
// file size).
import { ServiceProcesses, createTestDatabase, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor } from '@provisio/testing';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fmt, median, table } from './stats.ts';

export interface HrIngestBenchOptions {
  rows: number;
  runs: number;
  changedShare: number;
}

const MAPPING = `version: 1
snapshot: { mode: full, absentWorkers: leaver }
columns:
  workerId: WorkerID
  status: WorkerStatus
  workerType: WorkerType
  userName: UserID
  givenName: FirstName
  familyName: LastName
  managerWorkerId: ManagerID
  hireDate: { column: HireDate, format: MM/DD/YYYY }
  onLeave: OnLeave
  department: Department
  division: Division
  costCenter: CostCenter
  company: Company
  location: Location
  jobTitle: JobTitle
  countryCode: CountryCode
values:
  WorkerStatus: { Active: active, Terminated: terminated }
  WorkerType: { EMP: employee, CTR: contractor }
  OnLeave: { Y: true, N: false }
`;
const TIME_ZONES = JSON.stringify({ locations: { Berlin: 'Europe/Berlin', Austin: 'America/Chicago', Pune: 'Asia/Kolkata' }, countries: { DE: 'Europe/Berlin', US: 'America/New_York', IN: 'Asia/Kolkata' } });
const DEPARTMENTS = ['Engineering', 'Sales', 'Finance', 'Operations', 'Legal', 'Marketing', 'Support', 'Research'];
const SITES: [string, string][] = [['Berlin', 'DE'], ['Austin', 'US'], ['Pune', 'IN']];

/** Writes the file row by row (never whole in memory). `changed(i)` marks the rows of the second run. */
async function writeCsv(path: string, rows: number, changed: (i: number) => boolean): Promise<void> {
  const out = createWriteStream(path);
  const write = async (s: string) => {
    if (!out.write(s)) await new Promise<void>((r) => out.once('drain', () => r()));
  };
  await write('WorkerID,WorkerStatus,WorkerType,UserID,FirstName,LastName,ManagerID,HireDate,OnLeave,Department,Division,CostCenter,Company,Location,JobTitle,CountryCode\n');
  for (let i = 0; i < rows; i++) {
    // Each worker reports to one ten positions later in the file (managers mostly come after
    // their reports); the last ten report to nobody.
    const manager = i + 10 < rows ? `W${String(i + 10).padStart(7, '0')}` : '';
    const dept = DEPARTMENTS[(i + (changed(i) ? 1 : 0)) % DEPARTMENTS.length]!;
    const [site, cc] = SITES[i % SITES.length]!;
    const hire = `${String((i % 12) + 1).padStart(2, '0')}/${String((i % 28) + 1).padStart(2, '0')}/${2000 + (i % 24)}`;
    await write(`W${String(i).padStart(7, '0')},Active,${i % 9 === 0 ? 'CTR' : 'EMP'},user${i},Given${i},Family${i % 977},${manager},${hire},N,${dept},Div${i % 17},CC${i % 301},ACME ${i % 3},${site},Title ${i % 41},${cc}\n`);
  }
  out.end();
  await finished(out);
}

function peakRssMb(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmHWM:\s+(\d+) kB/.exec(s)?.[1] ?? 0) / 1024);
}

function rssMb(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? 0) / 1024);
}

/** Samples the process's RSS while `fn` runs; returns the largest sample of each quarter of the run. */
async function rssByQuarter<T>(pid: number, fn: () => Promise<T>): Promise<{ result: T; quarters: number[] }> {
  const samples: number[] = [];
  let on = true;
  const sampler = (async () => {
    while (on) {
      samples.push(await rssMb(pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const result = await fn();
    return { result, quarters: [0, 1, 2, 3].map((q) => Math.max(...samples.slice(Math.floor((q * samples.length) / 4), Math.floor(((q + 1) * samples.length) / 4)), 0)) };
  } finally {
    on = false;
    await sampler;
  }
}

interface Measured {
  seconds: number;
  events: number;
  kinds: Record<string, number>;
  /** Seconds from upload start to staged, planned, applied (hr-ingest's clock) and last event. */
  phases: string;
}

class Counter {
  count = 0;
  kinds: Record<string, number> = {};
}

async function uploadAndWait(url: string, token: string, file: string, expectEvents: number, counter: Counter): Promise<Measured> {
  const start = counter.count;
  const kindsBefore = { ...counter.kinds };
  const started = performance.now();
  const res = await fetch(`${url}/v1/sources/bench/snapshots?mapping=default`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'content-length': String((await stat(file)).size) },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  const { snapshotId } = (await res.json()) as { snapshotId: string };
  const snapshot = await waitFor(
    async () => {
      const s = (await (await fetch(`${url}/v1/snapshots/${snapshotId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        status: string;
        events: Record<string, number>;
        createdAt: string;
        stagedAt: string;
        plannedAt: string;
        finishedAt: string;
      };
      if (s.status === 'failed' || s.status === 'held') throw new Error(`snapshot ${s.status}`);
      return s.status === 'applied' ? s : undefined;
    },
    { timeoutMs: 30 * 60_000, intervalMs: 200, what: 'snapshot applied' },
  );
  const emitted = Object.values(snapshot.events).reduce((a, b) => a + b, 0);
  if (emitted !== expectEvents) throw new Error(`expected ${expectEvents} events, the snapshot emitted ${emitted}`);
  await waitFor(async () => counter.count - start >= emitted, { timeoutMs: 30 * 60_000, intervalMs: 20, what: `${emitted} events on Kafka` });
  const seconds = (performance.now() - started) / 1000;
  const at = (t: string) => ((Date.parse(t) - Date.parse(snapshot.createdAt)) / 1000).toFixed(1);
  const phases = `staged ${at(snapshot.stagedAt)} s, planned ${at(snapshot.plannedAt)} s, applied ${at(snapshot.finishedAt)} s, last event ${seconds.toFixed(1)} s`;
  const kinds = Object.fromEntries(Object.entries(counter.kinds).map(([k, v]) => [k, v - (kindsBefore[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
  return { seconds, events: counter.count - start, kinds, phases };
}

interface RunFigures {
  firstRowsPerSec: number;
  firstEvents: number;
  secondRowsPerSec: number;
  secondEvents: number;
  secondKinds: Record<string, number>;
  phases: string;
  idleRssMb: number;
  peakRssMb: number;
  /** Largest RSS in each quarter of the first run: flat when the data is not held. */
  quarters: number[];
}

async function oneRun(rows: number, changedShare: number, dir: string, withSecond: boolean): Promise<RunFigures> {
  const db = await createTestDatabase('benchhr');
  const prefix = uniqueTopicPrefix();
  const services = new ServiceProcesses();
  const consumer = testKafka('bench-hr').consumer({ groupId: `${prefix}bench`, maxWaitTimeInMs: 50, maxBytes: 50 * 1024 * 1024 });
  const counter = new Counter();
  try {
    const first = join(dir, `first-${rows}.csv`);
    const second = join(dir, `second-${rows}.csv`);
    const every = Math.round(1 / changedShare);
    await writeCsv(first, rows, () => false);
    if (withSecond) await writeCsv(second, rows, (i) => i % every === 0);
    const env = serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { LOG_LEVEL: 'error', HR_TIME_ZONES: TIME_ZONES, DATABASE_POOL_MAX: '10', ...(process.env['BENCH_NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['BENCH_NODE_OPTIONS'] } : {}) } });
    const hr = await services.start('hr-ingest', env);
    const pid = hr.child.pid!;
    const token = await mintToken(['hr:write', 'hr:read']);
    const put = await fetch(`${hr.url}/v1/sources/bench/csv-mappings/default`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/yaml' }, body: MAPPING });
    if (!put.ok) throw new Error(`mapping: ${put.status} ${await put.text()}`);
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}hr.lifecycle`, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const type = String(m.headers?.['ce_type'] ?? '').split('.').pop() ?? '?';
          counter.kinds[type.toUpperCase()] = (counter.kinds[type.toUpperCase()] ?? 0) + 1;
        }
        counter.count += batch.messages.length;
      },
    });
    const idleRssMb = await peakRssMb(pid);
    const { result: a, quarters } = await rssByQuarter(pid, () => uploadAndWait(hr.url, token, first, rows, counter));
    let b: Measured = { seconds: Number.NaN, events: 0, kinds: {}, phases: '' };
    if (withSecond) b = await uploadAndWait(hr.url, token, second, Math.floor((rows - 1) / every) + 1, counter);
    return {
      firstRowsPerSec: rows / a.seconds,
      firstEvents: a.events,
      secondRowsPerSec: rows / b.seconds,
      secondEvents: b.events,
      secondKinds: b.kinds,
      phases: `first: ${a.phases}; second: ${b.phases}`,
      idleRssMb,
      quarters,
      peakRssMb: await peakRssMb(pid),
    };
  } catch (e) {
    const out = services.running.find((p) => p.name === 'hr-ingest')?.output.join('').slice(-3000);
    throw new Error(`${(e as Error).message}${out ? `\n--- hr-ingest output ---\n${out}` : ''}`);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await services.stopAll();
    await db.drop();
  }
}

export async function hrIngestBench(o: HrIngestBenchOptions): Promise<void> {
  process.stdout.write(`hr-ingest: ${fmt(o.rows)}-row CSV snapshot → events on Kafka, then the same population with ${o.changedShare * 100} % changed; ${o.runs} runs\n`);
  const dir = await mkdtemp(join(tmpdir(), 'bench-hr-'));
  try {
    const runs: RunFigures[] = [];
    for (let r = 1; r <= o.runs; r++) {
      const f = await oneRun(o.rows, o.changedShare, dir, true);
      runs.push(f);
      process.stdout.write(
        `  run ${r}: first ${fmt(f.firstRowsPerSec)} rows/s (${fmt(f.firstEvents)} events), second ${fmt(f.secondRowsPerSec)} rows/s (${fmt(f.secondEvents)} events: ${Object.entries(f.secondKinds).map(([k, v]) => `${k} ${v}`).join(', ')}), RSS idle ${fmt(f.idleRssMb)} MB, peak ${fmt(f.peakRssMb)} MB\n         ${f.phases}\n         RSS by quarter of the first run: ${f.quarters.map((q) => fmt(q)).join(' / ')} MB\n`,
      );
    }
    // Memory flat in file size: the peak of a fresh process for a file a tenth of the size.
    const small = Math.max(1000, Math.round(o.rows / 10));
    const smallRun = await oneRun(small, o.changedShare, dir, false);
    process.stdout.write(`  ${fmt(small)}-row file in a fresh process: ${fmt(smallRun.firstRowsPerSec)} rows/s, peak RSS ${fmt(smallRun.peakRssMb)} MB\n`);
    const row = {
      rows: fmt(o.rows),
      'first run rows/s (median)': fmt(median(runs.map((r) => r.firstRowsPerSec))),
      'first run events': fmt(median(runs.map((r) => r.firstEvents))),
      [`${o.changedShare * 100} % changed rows/s`]: fmt(median(runs.map((r) => r.secondRowsPerSec))),
      'events emitted': fmt(median(runs.map((r) => r.secondEvents))),
      'peak RSS MB': fmt(median(runs.map((r) => r.peakRssMb))),
      [`peak RSS MB, ${fmt(small)} rows`]: fmt(smallRun.peakRssMb),
    };
    process.stdout.write(`\n${table([row])}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
