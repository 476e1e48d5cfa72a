import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKafka, stopKafka, type LocalKafka } from './kafka.js';
import { dataDir } from './paths.js';
import { PrerequisiteError, commandExists, readPid, run } from './process-utils.js';

/** A throwaway certificate authority and a broker certificate for 127.0.0.1 / localhost. */
export interface TlsMaterial {
  dir: string;
  /** PEM of the CA: what clients trust (KAFKA_SSL_CA_FILE). */
  caFile: string;
  /** PKCS#12 key store (broker key + certificate chain) and trust store (the CA). */
  keystoreFile: string;
  truststoreFile: string;
  storePassword: string;
  /** The broker certificate's subject, as Kafka names the principal of a TLS client: `CN=...`. */
  brokerDn: string;
}

function openssl(args: string[], cwd: string): void {
  run('openssl', args, { cwd });
}

/**
 * Generates a CA and a broker certificate (SAN IP:127.0.0.1, DNS:localhost) with openssl, for
 * tests of TLS listeners. Nothing leaves `dir`; the keys are not encrypted beyond the stores.
 */
export function generateTlsMaterial(dir: string, o: { brokerCn?: string; days?: number } = {}): TlsMaterial {
  if (!commandExists('openssl')) throw new PrerequisiteError('openssl is not installed; it generates the test certificates (`apt-get install openssl`)');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cn = o.brokerCn ?? 'provisio-test-broker';
  const days = String(o.days ?? 2);
  const storePassword = randomBytes(12).toString('hex');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', days, '-subj', '/CN=provisio-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', `/CN=${cn}`], dir);
  writeFileSync(join(dir, 'broker.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  openssl(['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.crt', '-days', days, '-extfile', 'broker.ext'], dir);
  openssl(['pkcs12', '-export', '-in', 'broker.crt', '-inkey', 'broker.key', '-certfile', 'ca.crt', '-name', 'broker', '-out', 'broker.p12', '-passout', `pass:${storePassword}`], dir);
  // A trust store holding only the CA, as Java reads it (PKCS#12 with a trusted-certificate entry).
  run('keytool', ['-importcert', '-noprompt', '-alias', 'ca', '-file', join(dir, 'ca.crt'), '-keystore', join(dir, 'truststore.p12'), '-storetype', 'PKCS12', '-storepass', storePassword]);
  return { dir, caFile: join(dir, 'ca.crt'), keystoreFile: join(dir, 'broker.p12'), truststoreFile: join(dir, 'truststore.p12'), storePassword, brokerDn: `CN=${cn}` };
}

export interface SecureKafkaOptions {
  /** Data folder name under .data (default `kafka-secure`); a second broker needs its own. */
  name?: string;
  port: number;
  controllerPort: number;
  /** The admin principal (a super user), SCRAM-SHA-512. */
  admin: { username: string; password: string };
  /** Further SCRAM-SHA-512 users, created when the log directory is formatted. */
  users: Record<string, string>;
  heapMb?: number;
  version?: string;
  log?: (line: string) => void;
}

export interface SecureKafka extends LocalKafka {
  name: string;
  tls: TlsMaterial;
  /** kafkajs settings for a user of this broker. */
  clientFor(username: string, password: string): { ssl: { ca: string[]; rejectUnauthorized: true }; sasl: { mechanism: 'scram-sha-512'; username: string; password: string } };
  stop(): Promise<void>;
}

/**
 * A fresh single-node KRaft broker as a secured production cluster runs it: clients only on a
 * SASL_SSL listener (SCRAM-SHA-512 over TLS), the StandardAuthorizer with
 * `allow.everyone.if.no.acl.found=false`, so nothing is allowed without an ACL except to the
 * super users. The controller listener uses mutual TLS, the broker's certificate being its
 * (super user) identity there. Users are created at format time (`StorageTool --add-scram`).
 */
export async function startSecureKafka(o: SecureKafkaOptions): Promise<SecureKafka> {
  const name = o.name ?? 'kafka-secure';
  // Always a new cluster: SCRAM users only apply to a freshly formatted log directory.
  if (readPid(join(dataDir(name), 'broker.pid'))) await stopKafka(name);
  rmSync(dataDir(name), { recursive: true, force: true });
  const tls = generateTlsMaterial(dataDir(name, 'tls'));
  const scram = (u: string, p: string) => {
    if (!/^[A-Za-z0-9._-]+$/.test(u) || !/^[A-Za-z0-9._-]+$/.test(p)) throw new Error(`SCRAM user '${u}': name and password must be [A-Za-z0-9._-]`);
    return ['--add-scram', `SCRAM-SHA-512=[name=${u},password=${p}]`];
  };
  const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${o.admin.username}" password="${o.admin.password}";`;
  const store = (prefix: string) => ({
    [`${prefix}ssl.keystore.type`]: 'PKCS12',
    [`${prefix}ssl.keystore.location`]: tls.keystoreFile,
    [`${prefix}ssl.keystore.password`]: tls.storePassword,
    [`${prefix}ssl.key.password`]: tls.storePassword,
    [`${prefix}ssl.truststore.type`]: 'PKCS12',
    [`${prefix}ssl.truststore.location`]: tls.truststoreFile,
    [`${prefix}ssl.truststore.password`]: tls.storePassword,
  });
  const client = { ssl: { ca: [readFileSync(tls.caFile, 'utf8')], rejectUnauthorized: true as const }, sasl: { mechanism: 'scram-sha-512' as const, username: o.admin.username, password: o.admin.password } };
  const started = await ensureKafka({
    name,
    port: o.port,
    controllerPort: o.controllerPort,
    ...(o.heapMb ? { heapMb: o.heapMb } : {}),
    ...(o.version ? { version: o.version } : {}),
    ...(o.log ? { log: o.log } : {}),
    formatArgs: [...scram(o.admin.username, o.admin.password), ...Object.entries(o.users).flatMap(([u, p]) => scram(u, p))],
    client,
    extraProperties: {
      listeners: `SASL_SSL://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
      'advertised.listeners': `SASL_SSL://127.0.0.1:${o.port}`,
      'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,CONTROLLER:SSL',
      'inter.broker.listener.name': 'SASL_SSL',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': jaas,
      ...store(''),
      'listener.name.controller.ssl.client.auth': 'required',
      'ssl.endpoint.identification.algorithm': 'https',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'allow.everyone.if.no.acl.found': 'false',
      'super.users': `User:${o.admin.username};User:${tls.brokerDn}`,
    },
  });
  return {
    ...started,
    name,
    tls,
    clientFor: (username, password) => ({ ssl: client.ssl, sasl: { mechanism: 'scram-sha-512', username, password } }),
    stop: async () => {
      await stopKafka(name);
      rmSync(dataDir(name), { recursive: true, force: true });
    },
  };
}
