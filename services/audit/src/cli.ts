// `provisio-audit` — verification and maintenance of the audit store from a shell:
//   provisio-audit verify [--from-seq N] [--to-seq N] [--kafka-checkpoints] [--kafka-offsets] [--public-key FILE]...
//     (public keys only: --public-key and/or AUDIT_TRUSTED_KEYS; a read-only role; no private key, no PII key)
//   provisio-audit verify-export FILE --public-key FILE [--public-key FILE]... [--require-complete]   (offline, no database)
//   provisio-audit checkpoint
//   provisio-audit migrate [--require-least-privilege]
//   provisio-audit retention --keep-months N
// `checkpoint` and `retention` read DATABASE_URL, DATABASE_SCHEMA and the AUDIT_* keys like the service;
// `migrate` and `retention` act as the schema owner (DATABASE_MIGRATION_URL) and are meant for
// jobs that alone hold the owner's credentials (the service then runs with DATABASE_URL only).
// The Kafka options read the services' KAFKA_* variables (TLS, SASL; cli-kafka.ts).
// Exit status: 0 verified / done, 1 problems found, 2 usage or configuration error.
import { createReadStream, readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ExportVerifier, checkpointSigner, trustedKeys, type TrustedKeys } from '@provisio/audit-domain';
import { ConfigError, loadConfig, resolveFileVariables, type Env } from '@provisio/config';
import { Database } from '@provisio/persistence';
import pg from 'pg';
import pino from 'pino';
import { z } from 'zod';
import { AUDIT_MIGRATIONS } from './migrations/index.js';
import { cliGroupId, cliKafka } from './cli-kafka.js';
import { ChainService } from './chain/chain.service.js';
import { KafkaEvidence, kafkaChecksProblem, type KafkaChecks } from './chain/kafka-evidence.js';
import { parseAuditKeys, parseTrustedKeys } from './config.js';
import { RetentionService } from './retention/retention.service.js';
import { PersonKeyStore } from './store/person-keys.repository.js';
import { RecordRepository } from './store/record.repository.js';
import { checkRuntimePrivileges, grantRuntimePrivileges } from './store/audit-privileges.js';

// kafkajs arms a timer with a negative delay on current Node versions (harmless; the services
// start with --disable-warning=TimeoutNegativeWarning): keep it off an auditor's terminal.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

class UsageError extends Error {}

function publicKeys(files: string[] | undefined): KeyObject[] {
  return (files ?? []).map((f) => {
    try {
      return createPublicKey(readFileSync(f, 'utf8'));
    } catch (e) {
      throw new UsageError(`--public-key ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not a PEM public key'}`);
    }
  });
}

/** The public half of AUDIT_SIGNING_KEY, when an operator runs verify with the service's variables. */
function signingPublicKey(pem: string): KeyObject {
  try {
    return createPublicKey(createPrivateKey(pem));
  } catch {
    throw new ConfigError(['AUDIT_SIGNING_KEY: not a PEM private key']);
  }
}

const dbEnv = z.object({
  DATABASE_URL: z.string().min(1),
  DATABASE_MIGRATION_URL: z.string().optional(),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('audit'),
  AUDIT_SIGNING_KEY: z.string(),
  AUDIT_TRUSTED_KEYS: z.string().optional(),
  AUDIT_PII_KEY: z.string(),
  AUDIT_CHECKPOINT_VERIFY: z.enum(['links', 'full']).default('links'),
});

/** `verify` needs no secret: public keys and a role that may read the schema. */
const verifyEnv = z.object({
  DATABASE_URL: z.string().min(1),
  DATABASE_SCHEMA: dbEnv.shape.DATABASE_SCHEMA,
  AUDIT_TRUSTED_KEYS: z.string().optional(),
});

const migrateEnv = z.object({
  DATABASE_URL: z.string().min(1),
  DATABASE_MIGRATION_URL: z.string().min(1, 'required: the schema owner'),
  DATABASE_SCHEMA: dbEnv.shape.DATABASE_SCHEMA,
});

/**
 * Migrates the schema as its owner and grants the runtime role (the user of DATABASE_URL) exactly
 * what the service needs, then checks from the runtime connection what that role can do.
 */
async function migrate(env: Env): Promise<{ schema: string; runtimeRole: string; owner: string; leastPrivilege: boolean; problems: string[] }> {
  const cfg = loadConfig(migrateEnv, resolveFileVariables(env, Object.keys(migrateEnv.shape)));
  await Database.migrate({ url: cfg.DATABASE_MIGRATION_URL, migrationUrl: cfg.DATABASE_MIGRATION_URL, schema: cfg.DATABASE_SCHEMA, applicationName: 'provisio-audit-migrate', migrations: AUDIT_MIGRATIONS });
  const runtime = new pg.Client({ connectionString: cfg.DATABASE_URL, application_name: 'provisio-audit-migrate' });
  await runtime.connect();
  try {
    const who = await runtime.query<{ role: string }>('SELECT current_user AS role');
    const role = who.rows[0]!.role;
    if (cfg.DATABASE_MIGRATION_URL !== cfg.DATABASE_URL) await grantRuntimePrivileges(cfg.DATABASE_MIGRATION_URL, cfg.DATABASE_SCHEMA, role);
    const report = await checkRuntimePrivileges((sql, params) => runtime.query(sql, params), cfg.DATABASE_SCHEMA);
    return { schema: cfg.DATABASE_SCHEMA, ...report };
  } finally {
    await runtime.end();
  }
}

async function withStore<T>(env: Env, fn: (s: { chain: ChainService; repo: RecordRepository; trusted: TrustedKeys; cfg: z.infer<typeof dbEnv>; keys: ReturnType<typeof parseAuditKeys> }) => Promise<T>, extraKeys: KeyObject[] = []): Promise<T> {
  const cfg = loadConfig(dbEnv, resolveFileVariables(env, Object.keys(dbEnv.shape)));
  const keys = parseAuditKeys(cfg);
  const db = await Database.open({ url: cfg.DATABASE_URL, schema: cfg.DATABASE_SCHEMA, applicationName: 'provisio-audit-cli', migrations: AUDIT_MIGRATIONS, migrate: false, poolMax: 2 });
  try {
    const personKeys = new PersonKeyStore(cfg.DATABASE_SCHEMA, keys.piiKek);
    const trusted = trustedKeys([...keys.trustedPublicKeys, ...extraKeys]);
    const repo = new RecordRepository(db, cfg.DATABASE_SCHEMA, personKeys, trusted);
    const chain = new ChainService(db, repo, checkpointSigner(keys.signingKey), trusted, pino({ level: 'warn' }), cfg.AUDIT_CHECKPOINT_VERIFY);
    return await fn({ chain, repo, trusted, cfg, keys });
  } finally {
    await db.close();
  }
}

/**
 * The store opened for verification only: DATABASE_URL (a read-only role is enough), the trusted
 * public keys from AUDIT_TRUSTED_KEYS and --public-key. No signing key, no PII key: an auditor
 * runs this without the service's secrets.
 */
async function withVerifier<T>(env: Env, extraKeys: KeyObject[], fn: (chain: ChainService) => Promise<T>): Promise<T> {
  const cfg = loadConfig(verifyEnv, resolveFileVariables(env, Object.keys(verifyEnv.shape)));
  const problems: string[] = [];
  const keys = [...parseTrustedKeys(cfg.AUDIT_TRUSTED_KEYS, problems), ...extraKeys];
  if (problems.length > 0) throw new ConfigError(problems);
  if (keys.length === 0) throw new UsageError('verify needs the checkpoint public key: --public-key FILE (PEM) or AUDIT_TRUSTED_KEYS');
  const db = await Database.open({ url: cfg.DATABASE_URL, schema: cfg.DATABASE_SCHEMA, applicationName: 'provisio-audit-verify', migrations: AUDIT_MIGRATIONS, migrate: false, poolMax: 2 });
  try {
    const trusted = trustedKeys(keys);
    const repo = new RecordRepository(db, cfg.DATABASE_SCHEMA, null, trusted);
    return await fn(new ChainService(db, repo, null, trusted, pino({ level: 'warn' })));
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'from-seq': { type: 'string' },
      'to-seq': { type: 'string' },
      'kafka-checkpoints': { type: 'boolean', default: false },
      'kafka-offsets': { type: 'boolean', default: false },
      'public-key': { type: 'string', multiple: true },
      'keep-months': { type: 'string' },
      'require-complete': { type: 'boolean', default: false },
      'require-least-privilege': { type: 'boolean', default: false },
    },
  });
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--${name}: expected a positive integer, got ${v}`);
    return Number(v);
  };
  switch (command) {
    case 'verify': {
      const range = { fromSeq: int('from-seq', values['from-seq']), toSeq: int('to-seq', values['to-seq']) };
      const checks: KafkaChecks = { checkpoints: values['kafka-checkpoints'], offsets: values['kafka-offsets'] };
      const invalid = kafkaChecksProblem(range, checks);
      if (invalid) throw new UsageError(`--kafka-offsets cannot be combined with --to-seq: ${invalid}`);
      // Public keys only (AUDIT_SIGNING_KEY and AUDIT_PII_KEY are not read): with the service's
      // private signing key set, its public half is trusted too, as before.
      const signingPem = resolveFileVariables(process.env, ['AUDIT_SIGNING_KEY'])['AUDIT_SIGNING_KEY'];
      const signingKey = signingPem ? [signingPublicKey(signingPem)] : [];
      const report = await withVerifier(
        process.env,
        [...publicKeys(values['public-key']), ...signingKey],
        async (chain) => {
          if (!checks.checkpoints && !checks.offsets) return chain.verify(range);
          // The services' KAFKA_* variables (TLS, SASL, *_FILE secrets), read only when asked for.
          if (!process.env['KAFKA_BROKERS']) throw new UsageError(`${checks.checkpoints ? '--kafka-checkpoints' : '--kafka-offsets'} needs KAFKA_BROKERS`);
          const kafka = cliKafka(process.env);
          return chain.verify(await new KafkaEvidence(kafka, () => cliGroupId(kafka.topicPrefix)).verifyOptions(range, checks));
        },
      );
      out(JSON.stringify(report, null, 2));
      return report.ok ? 0 : 1;
    }
    case 'verify-export': {
      const file = positionals[0];
      if (!file) throw new UsageError('verify-export needs the export file');
      const keys = publicKeys(values['public-key']);
      if (keys.length === 0) throw new UsageError('verify-export needs --public-key (the checkpoint signing public key, PEM)');
      const verifier = new ExportVerifier(trustedKeys(keys));
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) verifier.push(line);
      const report = verifier.finish();
      out(JSON.stringify(report, null, 2));
      // Records left out of a recorded range are problems (not ok); --require-complete also
      // refuses a range the file cannot prove closed (it reaches the end of the chain).
      return report.ok && report.tailCovered && (!values['require-complete'] || report.complete) ? 0 : 1;
    }
    case 'checkpoint': {
      const c = await withStore(process.env, ({ chain }) => chain.checkpoint());
      out(JSON.stringify(c ?? { checkpoint: null, reason: 'nothing new since the last checkpoint, the chain does not verify, or another replica is taking one' }, null, 2));
      return c ? 0 : 1;
    }
    case 'migrate': {
      const report = await migrate(process.env);
      out(JSON.stringify(report, null, 2));
      return report.leastPrivilege || !values['require-least-privilege'] ? 0 : 1;
    }
    case 'retention': {
      const months = int('keep-months', values['keep-months']);
      if (!months) throw new UsageError('retention needs --keep-months N');
      const outcome = await withStore(process.env, ({ chain, repo, trusted, cfg, keys }) =>
        new RetentionService(cfg.DATABASE_MIGRATION_URL ?? cfg.DATABASE_URL, repo, chain, checkpointSigner(keys.signingKey), trusted, pino({ level: 'info' })).apply(months),
      );
      out(JSON.stringify(outcome, null, 2));
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command ?? ''}': verify, verify-export, checkpoint, migrate, retention`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof ConfigError) {
      err(`provisio-audit: ${e.message}`);
      process.exit(2);
    }
    err(`provisio-audit: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
