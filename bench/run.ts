// `npm run bench [suite] [--joiners N] [--runs N] [--concurrency N] [--records N] [--rows N] [--changed 0.01]` — prints figures; numbers
// from a noisy 2-core machine are reported as medians over several runs.
import { TestEnv, ensureKafka, ensurePostgres, stopKafka } from '@provisio/devstack';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { auditBench } from './audit.ts';
import { connectorBench, reconcileBench } from './connectors.ts';
import { hrIngestBench } from './hr-ingest.ts';
import { pipelineBench } from './pipeline.ts';
import { policyBench } from './policy.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    joiners: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    persons: { type: 'string', default: '100000' },
    movers: { type: 'string', default: '20000' },
    records: { type: 'string', default: '60000' },
    commands: { type: 'string', default: '2000' },
    'target-concurrency': { type: 'string', default: '8' },
    accounts: { type: 'string', default: '100000' },
    'groups-per-account': { type: 'string', default: '3' },
    mode: { type: 'string', default: 'report' },
    'no-sync': { type: 'boolean', default: false },
    'create-batch': { type: 'string' },
    rows: { type: 'string', default: '100000' },
    changed: { type: 'string', default: '0.01' },
    profile: { type: 'string' },
  },
});

const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);
const postgres = await ensurePostgres(log);
const kafka = await ensureKafka({ log });
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
process.env[TestEnv.kafkaBrokers] = kafka.brokers.join(',');
process.env[TestEnv.postgresServer] = postgres.serverUrl;
process.env[TestEnv.authPublicKey] = publicKey.export({ type: 'spki', format: 'pem' }).toString();
process.env[TestEnv.authPrivateKey] = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const connector = { commands: Number(values.commands), runs: Number(values.runs), concurrency: Number(values['target-concurrency']), durable: !values['no-sync'], ...(values['create-batch'] ? { createBatchRoles: Number(values['create-batch']) } : {}) };
if (values.mode !== 'report' && values.mode !== 'correct') throw new Error(`--mode ${values.mode}: must be report or correct`);
const reconcile = { accounts: Number(values.accounts), runs: Number(values.runs), groupsPerAccount: Number(values['groups-per-account']), mode: values.mode } as const;
const suites: Record<string, () => Promise<void>> = {
  pipeline: () => pipelineBench({ joiners: Number(values.joiners), runs: Number(values.runs), concurrency: Number(values.concurrency) }),
  policy: () => policyBench({ persons: Number(values.persons), movers: Number(values.movers), runs: Number(values.runs) }),
  audit: () => auditBench({ records: Number(values.records), runs: Number(values.runs), profileDir: values.profile }),
  'connector-postgres': () => connectorBench('postgres', connector),
  'connector-ldap': () => connectorBench('ldap', connector),
  'connector-scim': () => connectorBench('scim', connector),
  'reconcile-postgres': () => reconcileBench('postgres', reconcile),
  'reconcile-ldap': () => reconcileBench('ldap', reconcile),
  'hr-ingest': () => hrIngestBench({ rows: Number(values.rows), runs: Number(values.runs), changedShare: Number(values.changed) }),
};
const chosen = positionals.length > 0 ? positionals : Object.keys(suites);
for (const name of chosen) {
  const suite = suites[name];
  if (!suite) throw new Error(`unknown suite ${name}; suites: ${Object.keys(suites).join(', ')}`);
  await suite();
}
// Leave the machine as we found it: stop a broker this run started.
if (kafka.started) await stopKafka();
process.exit(0);
