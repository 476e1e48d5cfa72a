// kafka-admin: Provisio's topics and ACLs on a Kafka cluster without Strimzi (and the Strimzi
// resources for one with it), from the catalog in catalog.ts.
//
//   kafka-admin plan  [options]            what apply would change (nothing is changed)
//   kafka-admin check [options] [--no-acls] every difference from the catalog; exit 3 when there is any
//   kafka-admin apply [options] [--prune-acls] [--allow-partition-increase] [--no-acls]
//                                          then verifies; exit 3 when anything is left different
//   kafka-admin acls  [options]            the ACLs of every principal, one per line
//   kafka-admin strimzi --cluster NAME [--api-version kafka.strimzi.io/v1beta2] [options]
//
// Options: --topic-prefix (default KAFKA_TOPIC_PREFIX), --user-prefix (default provisio-),
// --replication-factor (default 3). The connection uses the services' variables: KAFKA_BROKERS,
// KAFKA_SSL*, KAFKA_SASL_* (with an admin principal), each also as NAME_FILE.
//
// Exit status: 0 done / in sync; 1 unexpected error (e.g. cluster unreachable); 2 invalid usage or
// configuration; 3 drift: `check` found differences, or `apply` left some (it could not or was not
// allowed to fix them: each is printed on stderr as `not applied: ...`).
import { parseArgs } from 'node:util';
import { kafkaEnv, loadConfig, refineKafka, ConfigError } from '@provisio/config';
import { toKafkaJsConfig } from '@provisio/messaging';
import { Kafka, logLevel } from 'kafkajs';
import { stringify } from 'yaml';
import { z } from 'zod';
import { applyCatalog, catalogDrift } from './apply.js';
import { aclBindings, describeBinding, type PlanOptions } from './plan.js';
import { kafkaTopics, kafkaUsers } from './strimzi.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`[kafka-admin] ${s}\n`);

/** Where the command writes: stdout and stderr, or a test's buffers. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** Exit status when the cluster differs from the catalog (check) or still differs after apply. */
export const EXIT_DRIFT = 3;

const connectionSchema = z.object(kafkaEnv).superRefine(refineKafka);

export function adminKafka(env: NodeJS.ProcessEnv = process.env): Kafka {
  const c = loadConfig(connectionSchema, env);
  return new Kafka({
    ...toKafkaJsConfig({
      brokers: c.KAFKA_BROKERS,
      clientId: c.KAFKA_CLIENT_ID ?? 'provisio-kafka-admin',
      ssl: { enabled: c.KAFKA_SSL, caFile: c.KAFKA_SSL_CA_FILE, certFile: c.KAFKA_SSL_CERT_FILE, keyFile: c.KAFKA_SSL_KEY_FILE, rejectUnauthorized: c.KAFKA_SSL_REJECT_UNAUTHORIZED },
      sasl: c.KAFKA_SASL_MECHANISM && c.KAFKA_SASL_USERNAME && c.KAFKA_SASL_PASSWORD ? { mechanism: c.KAFKA_SASL_MECHANISM, username: c.KAFKA_SASL_USERNAME, password: c.KAFKA_SASL_PASSWORD } : undefined,
    }),
    logLevel: logLevel.ERROR,
  });
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = { out, err }): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'topic-prefix': { type: 'string' },
      'user-prefix': { type: 'string' },
      'replication-factor': { type: 'string' },
      'prune-acls': { type: 'boolean', default: false },
      'allow-partition-increase': { type: 'boolean', default: false },
      'no-acls': { type: 'boolean', default: false },
      cluster: { type: 'string' },
      'api-version': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    io.out('usage: kafka-admin plan|check|apply|acls|strimzi [--topic-prefix P] [--user-prefix U] [--replication-factor N] [--prune-acls] [--allow-partition-increase] [--no-acls] [--cluster NAME] [--api-version V]');
    return command ? 0 : 2;
  }
  const rf = values['replication-factor'];
  if (rf !== undefined && !/^[1-9]\d*$/.test(rf)) throw new ConfigError([`--replication-factor: '${rf}' is not a positive integer`]);
  const plan: PlanOptions = {
    topicPrefix: values['topic-prefix'] ?? env['KAFKA_TOPIC_PREFIX'] ?? '',
    ...(values['user-prefix'] !== undefined ? { userPrefix: values['user-prefix'] } : {}),
    ...(rf !== undefined ? { replicationFactor: Number(rf) } : {}),
  };
  switch (command) {
    case 'acls':
      for (const b of aclBindings(plan)) io.out(describeBinding(b));
      return 0;
    case 'strimzi': {
      if (!values.cluster) throw new ConfigError(['--cluster: the name of your Strimzi Kafka resource is required']);
      const apiVersion = values['api-version'] ?? 'kafka.strimzi.io/v1';
      if (apiVersion !== 'kafka.strimzi.io/v1' && apiVersion !== 'kafka.strimzi.io/v1beta2') throw new ConfigError([`--api-version: '${apiVersion}' is not kafka.strimzi.io/v1 or kafka.strimzi.io/v1beta2`]);
      const docs = [...kafkaTopics({ ...plan, cluster: values.cluster, apiVersion }), ...kafkaUsers({ ...plan, cluster: values.cluster, apiVersion })];
      io.out(docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
      return 0;
    }
    case 'plan':
    case 'check':
    case 'apply': {
      const admin = adminKafka(env).admin();
      await admin.connect();
      try {
        const options = { ...plan, pruneAcls: values['prune-acls'], allowPartitionIncrease: values['allow-partition-increase'], acls: !values['no-acls'] };
        if (command === 'check') {
          const drift = await catalogDrift(admin, { ...plan, acls: options.acls });
          for (const d of drift) io.out(`drift: ${d}`);
          io.out(`${drift.length} difference(s) from the catalog`);
          return drift.length > 0 ? EXIT_DRIFT : 0;
        }
        const report = await applyCatalog(admin, { ...options, dryRun: command === 'plan', log: io.out });
        const changed = report.createdTopics.length + report.reconfiguredTopics.length + report.grownTopics.length + report.createdAcls + report.deletedAcls;
        if (command === 'plan') {
          for (const d of report.drift) io.err(`drift: ${d}`);
          io.out(`would change ${changed} item(s); ${report.drift.length} drift(s) left`);
          return 0;
        }
        // Verify: whatever still differs was not applied (refused, or not allowed by the options).
        const left = await settledDrift(admin, options);
        for (const d of left) io.err(`not applied: ${d}`);
        io.out(`changed ${changed} item(s); ${left.length} difference(s) left`);
        return left.length > 0 ? EXIT_DRIFT : 0;
      } finally {
        await admin.disconnect();
      }
    }
    default:
      throw new ConfigError([`command '${command}': expected plan, check, apply, acls or strimzi`]);
  }
}

/** The drift after an apply, once the brokers' metadata caught up with what was just created. */
async function settledDrift(admin: ReturnType<Kafka['admin']>, o: Parameters<typeof catalogDrift>[1]): Promise<string[]> {
  let left = await catalogDrift(admin, o);
  for (let i = 0; i < 10 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    left = await catalogDrift(admin, o);
  }
  return left;
}

// Run as a program (node .../dist/cli.js), not when imported by tests.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      err(e instanceof ConfigError ? e.message : `error: ${(e as Error).stack ?? String(e)}`);
      process.exit(e instanceof ConfigError ? 2 : 1);
    },
  );
}
