import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { dataDir, projectRoot } from './paths.js';
import { PrerequisiteError, commandExists, isAlive, portOpen, readPid, run, spawnDetached, stopPid, waitUntil } from './process-utils.js';

/** The broker line the project is tested on (see docs/kafka.md). */
export const DEFAULT_KAFKA_VERSION = '4.4.0';

export interface LocalKafka {
  brokers: string[];
  /** True when this call started the broker (and so may stop it). */
  started: boolean;
  pid?: number | undefined;
  logFile?: string | undefined;
}

export interface KafkaStackOptions {
  version?: string;
  port?: number;
  controllerPort?: number;
  heapMb?: number;
  /** Extra or overriding server.properties entries (e.g. SASL listeners in security tests). */
  extraProperties?: Record<string, string>;
  /** Separate data folder, for a second broker with another configuration. */
  name?: string;
  /** Extra `kafka.tools.StorageTool format` arguments, e.g. `--add-scram` users (applied at the first start only). */
  formatArgs?: string[];
  /** How a client reaches the broker (TLS, SASL) when the listener is not PLAINTEXT; used to wait for it. */
  client?: Pick<KafkaConfig, 'ssl' | 'sasl'>;
  log?: (line: string) => void;
}

export function javaMajorVersion(): number | undefined {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8', env: process.env });
  if (r.error || r.status !== 0) return undefined;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr || r.stdout);
  if (!m) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

function checkJava(): void {
  const java = javaMajorVersion();
  if (java === undefined) {
    throw new PrerequisiteError(
      'Java is not installed. The local Kafka broker runs on Java 17+: install a JDK 17 or newer (e.g. `apt-get install openjdk-17-jdk-headless`) ' +
        'and Apache Maven (`apt-get install maven`), or use Docker instead: `docker compose up` (see README), or point KAFKA_BROKERS at an existing cluster.',
    );
  }
  if (java < 17) throw new PrerequisiteError(`Java ${java} found; the Kafka broker needs Java 17 or newer. Install a newer JDK, use Docker (\`docker compose up\`), or set KAFKA_BROKERS.`);
}

function checkMaven(): void {
  if (!commandExists('mvn')) {
    throw new PrerequisiteError(
      'Apache Maven is not installed; it fetches the Kafka broker from Maven Central. Install it (e.g. `apt-get install maven`), use Docker (`docker compose up`), or set KAFKA_BROKERS.',
    );
  }
}

/** Resolves the broker's jars from Maven Central into a cached folder. */
export function fetchKafka(version: string, log: (l: string) => void = () => undefined): string {
  const libs = dataDir('kafka', `libs-${version}`);
  // Java first, even when the jars are cached: without it nothing below can start.
  checkJava();
  if (existsSync(join(libs, `kafka_2.13-${version}.jar`))) return libs;
  checkMaven();
  log(`fetching Apache Kafka ${version} from Maven Central (cached in ~/.m2)`);
  mkdirSync(libs, { recursive: true });
  run('mvn', ['-q', '-B', '-f', join(projectRoot(), 'deploy/local/kafka/pom.xml'), `-Dkafka.version=${version}`, 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`]);
  return libs;
}

function serverProperties(o: { port: number; controllerPort: number; logDir: string; extra: Record<string, string> }): string {
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.bootstrap.servers': `127.0.0.1:${o.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': o.logDir,
    'num.partitions': '3',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '10',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
    'log.retention.hours': '168',
    'log.segment.bytes': '67108864',
    'num.network.threads': '2',
    'num.io.threads': '4',
    ...o.extra,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function brokerAnswers(brokers: string[], timeoutMs = 3000, client: Pick<KafkaConfig, 'ssl' | 'sasl'> = {}): Promise<boolean> {
  const kafka = new Kafka({ ...client, brokers, clientId: 'provisio-devstack', logLevel: logLevel.NOTHING, connectionTimeout: timeoutMs, retry: { retries: 0 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * A single-node KRaft broker from Maven Central, data in .data/kafka. Reuses a broker this
 * project already started. KAFKA_BROKERS set means: use that cluster, start nothing.
 */
export async function ensureKafka(o: KafkaStackOptions = {}): Promise<LocalKafka> {
  const log = o.log ?? (() => undefined);
  if (process.env['KAFKA_BROKERS'] && !o.name) return { brokers: process.env['KAFKA_BROKERS'].split(','), started: false };
  const version = o.version ?? process.env['PROVISIO_KAFKA_VERSION'] ?? DEFAULT_KAFKA_VERSION;
  const port = o.port ?? Number(process.env['PROVISIO_KAFKA_PORT'] ?? 19092);
  const controllerPort = o.controllerPort ?? port + 1;
  const home = dataDir(o.name ?? 'kafka');
  const pidFile = join(home, 'broker.pid');
  const brokers = [`127.0.0.1:${port}`];
  const running = readPid(pidFile);
  if (running && (await brokerAnswers(brokers, 3000, o.client))) return { brokers, started: false, pid: running };
  if (!running && (await portOpen(port))) {
    throw new PrerequisiteError(`port ${port} is taken by another program; set PROVISIO_KAFKA_PORT to a free port or KAFKA_BROKERS to use that broker`);
  }
  const libs = fetchKafka(version, log);
  const logDir = join(home, `data-${version}`);
  mkdirSync(logDir, { recursive: true });
  const propsFile = join(home, 'server.properties');
  writeFileSync(propsFile, serverProperties({ port, controllerPort, logDir, extra: o.extraProperties ?? {} }));
  const classpath = `${libs}/*`;
  if (!readdirSync(logDir).includes('meta.properties')) {
    const clusterId = run('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid']).trim().split('\n').pop()!;
    run('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, '--standalone', ...(o.formatArgs ?? [])]);
  }
  const logFile = join(home, 'broker.log');
  log(`starting Apache Kafka ${version} on 127.0.0.1:${port} (log: ${logFile})`);
  const heap = o.heapMb ?? 1024;
  const pid = spawnDetached(
    'java',
    [
      `-Xms256m`,
      `-Xmx${heap}m`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:ActiveProcessorCount=2',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${join(projectRoot(), 'deploy/local/kafka/log4j2.properties')}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      propsFile,
    ],
    logFile,
  );
  writeFileSync(pidFile, String(pid));
  const exited = () => (isAlive(pid) ? undefined : `the broker exited; last lines of its log:\n${tailOf(logFile)}`);
  await waitUntil(`Kafka broker on 127.0.0.1:${port} (see ${logFile})`, () => brokerAnswers(brokers, 3000, o.client), 120_000, 500, exited);
  return { brokers, started: true, pid, logFile };
}

export async function stopKafka(name = 'kafka'): Promise<boolean> {
  const pid = readPid(join(dataDir(name), 'broker.pid'));
  if (!pid) return false;
  await stopPid(pid, 30_000);
  return true;
}
