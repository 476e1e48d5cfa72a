// Connector benchmarks. Per connector: commands/s at steady state through the real service
// (Kafka in, target writes, results through the outbox) beside the raw write rate of the same
// target in the same run (ldapadd for slapd, direct SQL for PostgreSQL, direct HTTP for the SCIM
// server), as a ratio. And reconciliation of 100k accounts (LDAP, PostgreSQL).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { avroCodec, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';
import { startSlapd, type RunningSlapd } from '@provisio/devstack';
import { CommandSender, ScimTestServer, ServiceProcesses, createTestDatabase, mintToken, provisioningCommand, serviceTestEnv, testKafka, uniqueTopicPrefix, type TestDatabase } from '@provisio/testing';
import pg from 'pg';
import { fmt, median, pool, table } from './stats.ts';
import { createTopics } from './topics.ts';
import { loadAverages, processCpuMs, voluntarySwitches } from './proc.ts';

export type ConnectorKind = 'postgres' | 'ldap' | 'scim';

export interface ConnectorBenchOptions {
  commands: number;
  runs: number;
  concurrency: number;
  /** slapd syncs every write (its default); false runs it with dbnosync. */
  durable: boolean;
  /** connector-postgres: roles per create transaction at most (its createBatch.maxRoles); 1 commits every create alone. */
  createBatchRoles?: number;
}

interface Figures {
  commandsPerSec: number;
  rawPerSec: number;
  /** CPU time (user + system) the connector process spent per command, start-up excluded; less noisy than rates on a shared machine. */
  cpuMsPerCommand: number;
  /** 1-minute load average when the run ended. */
  load: number;
  /** Times the connector's main thread went to sleep (voluntary context switches: the event loop waiting for I/O or a timer) per command. */
  sleepsPerCommand: number;
}

/** Results of one prefix, collected until `n` arrived; returns the appliedAt of each. */
async function collectResults(prefix: string, n: number, timeoutMs: number): Promise<number[]> {
  const consumer = testKafka('bench-results').consumer({ groupId: `${prefix}bench-results`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic: `${prefix}provisioning.results`, fromBeginning: true });
  const applied: number[] = [];
  let failed = 0;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((r) => (finished = r));
  await consumer.run({
    eachMessage: async ({ message }) => {
      const r: ProvisioningResult = avroCodec().decode('ProvisioningResult', message.value!);
      if (r.status === 'APPLIED') applied.push(r.appliedAt);
      else failed++;
      if (applied.length + failed >= n) finished();
    },
  });
  const timer = setTimeout(finished, timeoutMs);
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  if (failed > 0 || applied.length < n) throw new Error(`${applied.length} of ${n} commands applied, ${failed} not`);
  return applied.sort((a, b) => a - b);
}

/** Commands/s between the 10th and the 90th percentile of completion times (start-up and tail excluded). */
function steadyRate(appliedAt: number[]): number {
  const lo = Math.floor(appliedAt.length * 0.1);
  const hi = Math.floor(appliedAt.length * 0.9) - 1;
  return (hi - lo) / Math.max(0.001, (appliedAt[hi]! - appliedAt[lo]!) / 1000);
}

interface Rig {
  targetsJson: string;
  extraEnv?: Record<string, string>;
  command(i: number): ProvisioningCommand;
  raw(n: number): Promise<number>;
  cleanup(): Promise<void>;
}

/** Roles are cluster-wide: drop this run's, a thousand per transaction (each holds a lock until commit). */
async function dropRoles(target: TestDatabase, tag: string): Promise<void> {
  for (;;) {
    const left = await target.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_roles WHERE rolname LIKE $1`, [`b${tag}\\_%`]);
    if (left[0]!.n === '0') {
      // The roles are gone, their catalog rows are dead: vacuum the shared catalogs so that the
      // next run (and everyone else's tests on this cluster) does not wade through them — 100,000
      // roles created and dropped left pg_authid at 69 MB for 15 live roles, and CREATE ROLE slow.
      for (const t of ['pg_authid', 'pg_auth_members', 'pg_shdescription', 'pg_shdepend']) await target.query(`VACUUM ${t}`);
      return;
    }
    await target.query(`DO $$ DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'b${tag}\\_%' LIMIT 1000 LOOP EXECUTE format('DROP ROLE %I', r.rolname); END LOOP; END $$`);
  }
}

async function postgresRig(tag: string, concurrency: number, _durable: boolean, createBatchRoles?: number): Promise<Rig> {
  const target = await createTestDatabase('benchpgtarget');
  const marker = `provisio:bench(${tag}) person=`;
  return {
    targetsJson: JSON.stringify([{ id: 'pg', url: target.url, concurrency, markerPrefix: marker, ...(createBatchRoles ? { createBatch: { maxRoles: createBatchRoles } } : {}) }]),
    command: (i) => provisioningCommand({ personId: `p${i}`, target: 'pg', targetKind: 'postgres', accountName: `b${tag}_c${i}` }),
    // The same work the connector does for a joiner: CREATE ROLE + COMMENT in one transaction.
    raw: async (n) => {
      const p = new pg.Pool({ connectionString: target.url, max: concurrency });
      const started = performance.now();
      await pool(Array.from({ length: n }, (_, i) => i), concurrency, async (i) => {
        const c = await p.connect();
        try {
          await c.query('BEGIN');
          await c.query(`CREATE ROLE "b${tag}_r${i}" LOGIN`);
          await c.query(`COMMENT ON ROLE "b${tag}_r${i}" IS '${marker}raw${i}'`);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
      });
      const rate = n / ((performance.now() - started) / 1000);
      await p.end();
      return rate;
    },
    cleanup: async () => {
      await dropRoles(target, tag);
      await target.drop();
    },
  };
}

function ldapadd(s: RunningSlapd, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('ldapadd', ['-x', '-H', s.url, '-D', s.rootDn, '-w', s.rootPassword, '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ldapadd exited with ${code}: ${err.slice(0, 500)}`))));
  });
}

async function ldapRig(_tag: string, concurrency: number, durable: boolean): Promise<Rig> {
  // Durable (slapd's default: every write synced) is what a real directory does; --no-sync measures against dbnosync.
  const slapd = await startSlapd({ noSync: !durable });
  const dir = await mkdtemp(join(tmpdir(), 'provisio-bench-ldif-'));
  return {
    targetsJson: JSON.stringify([{ id: 'dir', url: slapd.url, allowInsecureLdap: true, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, usersBase: `ou=people,${slapd.suffix}`, concurrency, connections: 4 }]),
    command: (i) => provisioningCommand({ personId: `p${i}`, target: 'dir', targetKind: 'ldap', accountName: `c${i}`, attributes: { cn: `Bench ${i}`, sn: `Person ${i}`, mail: `c${i}@example.org` } }),
    // ldapadd from ldap-utils: the same entries (with the owner marker the connector writes), one connection.
    raw: async (n) => {
      const file = join(dir, 'raw.ldif');
      const entries = Array.from({ length: n }, (_, i) =>
        `dn: uid=r${i},ou=people,${slapd.suffix}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: r${i}\ncn: Bench ${i}\nsn: Person ${i}\nmail: r${i}@example.org\ndescription: provisio:managed person=raw${i}\n`,
      );
      await writeFile(file, entries.join('\n'));
      const started = performance.now();
      await ldapadd(slapd, file);
      return n / ((performance.now() - started) / 1000);
    },
    cleanup: async () => {
      await slapd.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function scimRig(_tag: string, concurrency: number): Promise<Rig> {
  const server = await ScimTestServer.start();
  return {
    targetsJson: JSON.stringify([{ id: 'app', baseUrl: server.url, allowInsecureHttp: true, auth: { type: 'bearer', token: server.token }, concurrency }]),
    command: (i) => provisioningCommand({ personId: `p${i}`, target: 'app', targetKind: 'scim', accountName: `c${i}`, attributes: { givenName: 'Bench', familyName: `Person ${i}`, mail: `c${i}@example.org` } }),
    // Direct HTTP: the POST /Users a joiner needs, same concurrency.
    raw: async (n) => {
      const started = performance.now();
      await pool(Array.from({ length: n }, (_, i) => i), concurrency, async (i) => {
        const res = await fetch(`${server.url}/Users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/scim+json' },
          body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `r${i}`, externalId: `raw${i}`, active: true, name: { givenName: 'Bench', familyName: `Person ${i}` }, emails: [{ type: 'work', value: `r${i}@example.org`, primary: true }] }),
        });
        if (res.status !== 201) throw new Error(`SCIM server answered ${res.status}`);
        await res.arrayBuffer();
      });
      const rate = n / ((performance.now() - started) / 1000);
      // The test server checks uniqueness and answers filters by scanning its users (no index, unlike
      // a real service and unlike PostgreSQL's catalog or slapd): the connector starts on the same
      // empty store the raw run started on, or each of its requests would scan N more users.
      if (server.store.users.size !== n) throw new Error(`SCIM server holds ${server.store.users.size} users after ${n} raw POSTs`);
      server.store.users.clear();
      return rate;
    },
    cleanup: () => server.close(),
  };
}

const RIGS: Record<ConnectorKind, (tag: string, concurrency: number, durable: boolean, createBatchRoles?: number) => Promise<Rig>> = { postgres: postgresRig, ldap: ldapRig, scim: scimRig };

/** V8/Node flags for the connector process: BENCH_NODE_OPTIONS as given, BENCH_CPU_PROFILE_DIR as a shorthand for a CPU profile. */
function connectorNodeOptions(): { NODE_OPTIONS?: string } {
  const flags = [process.env['BENCH_NODE_OPTIONS'], process.env['BENCH_CPU_PROFILE_DIR'] ? `--cpu-prof --cpu-prof-dir=${process.env['BENCH_CPU_PROFILE_DIR']}` : undefined].filter(Boolean);
  return flags.length ? { NODE_OPTIONS: flags.join(' ') } : {};
}

async function oneRun(kind: ConnectorKind, o: ConnectorBenchOptions): Promise<Figures> {
  const tag = randomBytes(3).toString('hex');
  const rig = await RIGS[kind](tag, o.concurrency, o.durable, o.createBatchRoles);
  const state = await createTestDatabase('benchconn');
  const services = new ServiceProcesses();
  const prefix = uniqueTopicPrefix();
  try {
    // Raw first, on the empty target; then the connector on the same target.
    const rawPerSec = await rig.raw(o.commands);
    // All commands wait in the topic before the connector starts: it runs flat out from the first poll.
    const sender = new CommandSender(prefix);
    await createTopics([`provisioning.commands.${kind}`, `provisioning.commands.${kind}.dlt`, 'provisioning.results', 'provisioning.results.dlt'].map((t) => ({ topic: `${prefix}${t}`, partitions: 3 })));
    await sender.send(kind, Array.from({ length: o.commands }, (_, i) => rig.command(i)));
    await sender.close();
    const results = collectResults(prefix, o.commands, 600_000);
    const svc = await services.start(`connector-${kind}`, serviceTestEnv({ databaseUrl: state.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: rig.targetsJson, LOG_LEVEL: 'warn', ...rig.extraEnv, ...connectorNodeOptions() } }));
    const cpuAtReady = processCpuMs(svc.child.pid);
    const sleepsAtReady = voluntarySwitches(svc.child.pid);
    const appliedAt = await results;
    const cpuMsPerCommand = (processCpuMs(svc.child.pid) - cpuAtReady) / o.commands;
    const sleepsPerCommand = (voluntarySwitches(svc.child.pid) - sleepsAtReady) / o.commands;
    if (process.env['BENCH_SHOW_METRICS']) process.stderr.write((await (await fetch(`${svc.url}/metrics`)).text()).split('\n').filter((l) => new RegExp(process.env['BENCH_SHOW_METRICS']!).test(l)).join('\n') + '\n');
    if (process.env['BENCH_SHOW_OUTPUT']) process.stderr.write(services.get(`connector-${kind}`).output.join('').slice(-3000));
    return { commandsPerSec: steadyRate(appliedAt), rawPerSec, cpuMsPerCommand, load: loadAverages()[0], sleepsPerCommand };
  } finally {
    await services.stopAll();
    await rig.cleanup();
    await state.drop();
  }
}

export async function connectorBench(kind: ConnectorKind, o: ConnectorBenchOptions): Promise<void> {
  process.stdout.write(`connector-${kind}: ${o.commands} joiner commands per run, target concurrency ${o.concurrency}, ${o.runs} runs${kind === 'ldap' ? (o.durable ? ', slapd syncing every write (default)' : ', slapd with dbnosync') : ''}\n`);
  const runs: Figures[] = [];
  for (let r = 1; r <= o.runs; r++) {
    const f = await oneRun(kind, o);
    runs.push(f);
    process.stdout.write(
      `  run ${r}: ${fmt(f.commandsPerSec)} commands/s (steady state); raw ${fmt(f.rawPerSec)} writes/s; ratio ${fmt(f.commandsPerSec / f.rawPerSec, 2)}; connector CPU ${fmt(f.cpuMsPerCommand, 2)} ms/command; event-loop sleeps ${fmt(f.sleepsPerCommand, 2)}/command; load ${fmt(f.load, 1)}\n`,
    );
  }
  const raw = kind === 'ldap' ? 'ldapadd' : kind === 'postgres' ? 'direct SQL' : 'direct HTTP';
  process.stdout.write(
    `\n${table([
      {
        connector: kind,
        'commands/s (median)': fmt(median(runs.map((r) => r.commandsPerSec))),
        [`raw ${raw}/s`]: fmt(median(runs.map((r) => r.rawPerSec))),
        'connector / raw': fmt(median(runs.map((r) => r.commandsPerSec / r.rawPerSec)), 2),
        'connector CPU ms/command': fmt(median(runs.map((r) => r.cpuMsPerCommand)), 2),
      },
    ])}\n\n`,
  );
}

// ---- reconciliation of many accounts ---------------------------------------------------------

export interface ReconcileBenchOptions {
  accounts: number;
  runs: number;
  /** Group memberships per account (of GROUPS groups on the target); 0 for none. */
  groupsPerAccount: number;
  mode: 'report' | 'correct';
}

/** Groups on the reconciled target; account i belongs to groups (i + 7j) mod GROUPS, j < groupsPerAccount. */
const GROUPS = 20;
const groupsOf = (i: number, k: number): number[] => Array.from({ length: k }, (_, j) => (i + 7 * j) % GROUPS);
/** The target's memberships of account i, with 1 % missing one (i % 100 = 50) and 1 % holding one more (i % 100 = 75). */
const targetGroupsOf = (i: number, k: number): number[] => {
  const g = groupsOf(i, k);
  if (k > 0 && i % 100 === 50) return g.slice(1);
  if (k > 0 && k < GROUPS && i % 100 === 75) return [...g, (i + 7 * k) % GROUPS];
  return g;
};

async function seedDesired(state: TestDatabase, schema: string, target: string, n: number, name: (i: number) => string, groupPrefix: string, k: number): Promise<void> {
  await state.query(
    `INSERT INTO ${schema}.applied_versions (person_id, target, version, account_name, account_ref, status, desired, desired_version)
     SELECT 'p' || i, $1::text, 1, $2::text || i, NULL, 'APPLIED',
            jsonb_build_object('personId', 'p' || i, 'target', $1::text, 'version', 1, 'state', 'ACTIVE', 'accountName', $2::text || i, 'attributes', $3::jsonb,
              'groups', COALESCE((SELECT jsonb_agg($5::text || ((i + 7 * j) % ${GROUPS}) ORDER BY (i + 7 * j) % ${GROUPS}) FROM generate_series(0, $6::int - 1) AS j), '[]'::jsonb)), 1
     FROM generate_series(0, $4::int - 1) AS i`,
    [target, name(0).replace(/0$/, ''), JSON.stringify({}), n, groupPrefix, k],
  );
}

interface ReconcileFigures {
  seconds: number;
  scanned: number;
  drift: Record<string, number>;
  corrected: number;
  correctionFailures: number;
}

async function reconcileRun(kind: 'ldap' | 'postgres', n: number, k: number, mode: 'report' | 'correct'): Promise<ReconcileFigures> {
  const tag = randomBytes(3).toString('hex');
  const state = await createTestDatabase('benchrec');
  const services = new ServiceProcesses();
  let cleanup: () => Promise<void> = async () => undefined;
  try {
    let targetsJson: string;
    if (kind === 'postgres') {
      const target = await createTestDatabase('benchrectarget');
      const marker = `provisio:bench(${tag}) person=`;
      // n marked login roles, as the connector would have created them (about 1 % disabled: drift).
      // In chunks: each role takes a lock until its transaction ends (max_locks_per_transaction).
      for (let from = 0; from < n; from += 1000) {
        await target.query(
          `DO $$ BEGIN FOR i IN ${from}..${Math.min(n, from + 1000) - 1} LOOP
             EXECUTE format('CREATE ROLE %I %s', 'b${tag}_' || i, CASE WHEN i % 100 = 0 THEN 'NOLOGIN' ELSE 'LOGIN' END);
             EXECUTE format('COMMENT ON ROLE %I IS %L', 'b${tag}_' || i, '${marker}p' || i);
           END LOOP; END $$`,
        );
      }
      cleanup = async () => {
        await dropRoles(target, tag);
        await target.drop();
      };
      if (k > 0) {
        const members: string[][] = Array.from({ length: GROUPS }, () => []);
        for (let i = 0; i < n; i++) for (const g of targetGroupsOf(i, k)) members[g]!.push(`"b${tag}_${i}"`);
        for (let g = 0; g < GROUPS; g++) {
          await target.query(`CREATE ROLE "b${tag}_g${g}" NOLOGIN`);
          for (let from = 0; from < members[g]!.length; from += 2000) await target.query(`GRANT "b${tag}_g${g}" TO ${members[g]!.slice(from, from + 2000).join(', ')}`);
        }
      }
      targetsJson = JSON.stringify([{ id: 'pg', url: target.url, markerPrefix: marker, groups: { managedPattern: `^b${tag}_g` }, reconcile: { pageSize: 5000 } }]);
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'provisio-bench-ldif-'));
      const file = join(dir, 'people.ldif');
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        lines.push(
          `dn: uid=b${i},ou=people,dc=example,dc=org\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: b${i}\ncn: b${i}\nsn: b${i}\ndescription: provisio:managed person=p${i}\n${i % 100 === 0 ? 'title: drifted\n' : ''}`,
        );
      }
      const members: string[][] = Array.from({ length: GROUPS }, () => []);
      for (let i = 0; i < n; i++) for (const g of targetGroupsOf(i, k)) members[g]!.push(`member: uid=b${i},ou=people,dc=example,dc=org\n`);
      if (k > 0) for (let g = 0; g < GROUPS; g++) lines.push(`dn: cn=g${g},ou=groups,dc=example,dc=org\nobjectClass: top\nobjectClass: groupOfNames\ncn: g${g}\n${members[g]!.join('')}`);
      await writeFile(file, lines.join('\n'));
      const slapd = await startSlapd({ preloadFile: file });
      cleanup = async () => {
        await slapd.destroy();
        await rm(dir, { recursive: true, force: true });
      };
      targetsJson = JSON.stringify([
        {
          id: 'dir', url: slapd.url, allowInsecureLdap: true, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, usersBase: `ou=people,${slapd.suffix}`, reconcile: { pageSize: 1000 },
          ...(k > 0 ? { groupEntries: { base: `ou=groups,${slapd.suffix}` } } : {}),
        },
      ]);
    }
    const prefix = uniqueTopicPrefix();
    const svc = await services.start(`connector-${kind}`, serviceTestEnv({ databaseUrl: state.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: targetsJson, LOG_LEVEL: 'warn', ...connectorNodeOptions() } }));
    const target = kind === 'postgres' ? 'pg' : 'dir';
    const schema = kind === 'postgres' ? 'connector_postgres' : 'connector_ldap';
    await seedDesired(state, schema, target, n, (i) => (kind === 'postgres' ? `b${tag}_${i}` : `b${i}`), kind === 'postgres' ? `b${tag}_g` : 'g', k);
    if (kind === 'ldap') await state.query(`UPDATE ${schema}.applied_versions SET desired = jsonb_set(desired, '{attributes}', '{"title": null}') WHERE target = 'dir'`);
    const token = await mintToken(['connector:read', 'connector:write']);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const run = (await (await fetch(`${svc.url}/v1/targets/${target}/reconciliations`, { method: 'POST', headers: auth, body: JSON.stringify({ mode }) })).json()) as { runId: string };
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const s = (await (await fetch(`${svc.url}/v1/targets/${target}/reconciliations/${run.runId}`, { headers: auth })).json()) as {
        status: string;
        accountsScanned: number;
        drift: Record<string, number>;
        corrected: number;
        correctionFailures: number;
        startedAt: string;
        finishedAt: string;
        error: string | null;
      };
      if (s.status === 'RUNNING') continue;
      if (s.status !== 'SUCCEEDED') throw new Error(`reconciliation ${s.status}: ${s.error}`);
      return { seconds: (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000, scanned: s.accountsScanned, drift: s.drift, corrected: s.corrected, correctionFailures: s.correctionFailures };
    }
  } catch (e) {
    const output = (() => {
      try {
        return services.get(`connector-${kind}`).output.join('').slice(-4000);
      } catch {
        return '(not running)';
      }
    })();
    process.stderr.write(`--- connector-${kind} output ---\n${output}\n`);
    throw e;
  } finally {
    await services.stopAll();
    await cleanup();
    await state.drop();
  }
}

export async function reconcileBench(kind: 'ldap' | 'postgres', o: ReconcileBenchOptions): Promise<void> {
  process.stdout.write(
    `reconcile-${kind}: ${o.accounts} accounts on the target, ${o.groupsPerAccount} group memberships each (of ${GROUPS} groups), ${o.mode} mode, ${o.runs} runs (goal: under 60 s)\n`,
  );
  const runs: ReconcileFigures[] = [];
  for (let r = 1; r <= o.runs; r++) {
    const f = await reconcileRun(kind, o.accounts, o.groupsPerAccount, o.mode);
    runs.push(f);
    const corrected = o.mode === 'correct' ? `; corrected ${f.corrected}, correction failures ${f.correctionFailures}` : '';
    process.stdout.write(`  run ${r}: ${f.scanned} accounts scanned in ${fmt(f.seconds, 1)} s (${fmt(f.scanned / f.seconds)} accounts/s); drift ${JSON.stringify(f.drift)}${corrected}; load ${loadAverages()[0].toFixed(1)}\n`);
  }
  process.stdout.write(`\n${table([{ target: kind, accounts: o.accounts, memberships: o.accounts * o.groupsPerAccount, mode: o.mode, 'seconds (median)': fmt(median(runs.map((r) => r.seconds)), 1), 'accounts/s (median)': fmt(median(runs.map((r) => r.scanned / r.seconds))) }])}\n\n`);
}
