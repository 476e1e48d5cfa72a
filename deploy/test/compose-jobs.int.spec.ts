import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '@provisio/devstack';
import { resolveTopics } from '@provisio/kafka-admin';
import { kafkaBrokers, testKafka, uniqueTopicPrefix, waitFor } from '@provisio/testing';
import { jwtVerify } from 'jose';
import { parse } from 'yaml';

/**
 * The one-shot jobs of docker-compose.yml, run outside Docker with the commands and environment
 * the file gives them (paths inside the image mapped to this checkout's build): kafka-init
 * against the real broker, auth-keys and token as a developer uses them, and OpenLDAP's
 * entrypoint with the system slapd.
 */
const root = projectRoot();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string[]; entrypoint?: string[]; environment?: Record<string, string> }>;
};
const local = (args: string[]) => args.map((a) => a.replace(/^\/app\//, `${root}/`));
const job = (name: string, extraArgs: string[], env: Record<string, string>) => {
  const svc = compose.services[name]!;
  const [cmd, ...args] = local([...(svc.entrypoint ?? []), ...(svc.command ?? []), ...extraArgs]);
  expect(cmd).toBe('node');
  return spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', ...args], { env: { PATH: process.env['PATH'] ?? '', ...svc.environment, ...env }, encoding: 'utf8' });
};

describe('docker compose jobs, run outside Docker', () => {
  const prefix = uniqueTopicPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'provisio-auth-keys-'));

  afterAll(async () => {
    const admin = testKafka().admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('kafka-init creates every topic of the catalog, and a second run changes nothing', async () => {
    const env = { KAFKA_BROKERS: kafkaBrokers().join(','), KAFKA_TOPIC_PREFIX: prefix };
    const first = job('kafka-init', [], env);
    expect({ status: first.status, stderr: first.stderr }).toEqual({ status: 0, stderr: '' });
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      const wanted = resolveTopics({ topicPrefix: prefix, replicationFactor: 1 });
      expect(topics.filter((t) => t.startsWith(prefix)).sort()).toEqual(wanted.map((t) => t.name).sort());
      const meta = await admin.fetchTopicMetadata({ topics: [`${prefix}hr.lifecycle`] });
      expect(meta.topics[0]!.partitions).toHaveLength(12);
    } finally {
      await admin.disconnect();
    }
    const again = job('kafka-init', [], env);
    expect({ status: again.status, last: again.stdout.trim().split('\n').pop() }).toEqual({ status: 0, last: 'changed 0 item(s); 0 difference(s) left' });
  });

  it('auth-keys writes a key pair the services trust, and token mints a token it verifies', async () => {
    const keys = job('auth-keys', [], { PROVISIO_DATA_DIR: dataDir });
    expect(keys.status).toBe(0);
    expect(keys.stdout.trim()).toBe(`AUTH_PUBLIC_KEY_FILE=${dataDir}/auth/dev-public-key.pem`);
    expect(statSync(join(dataDir, 'auth/dev-signing-key.pem')).mode & 0o077).toBe(0);
    const token = job('token', ['hr:write', 'audit:read'], { PROVISIO_DATA_DIR: dataDir });
    expect(token.status).toBe(0);
    const publicKey = createPublicKey(readFileSync(join(dataDir, 'auth/dev-public-key.pem'), 'utf8'));
    const { payload } = await jwtVerify(token.stdout.trim(), publicKey, { issuer: 'provisio-dev', audience: 'provisio' });
    expect(payload['scope']).toBe('hr:write audit:read');
    // A second run keeps the key (tokens stay valid across `docker compose up`).
    const before = readFileSync(join(dataDir, 'auth/dev-public-key.pem'), 'utf8');
    expect(job('auth-keys', [], { PROVISIO_DATA_DIR: dataDir }).status).toBe(0);
    expect(readFileSync(join(dataDir, 'auth/dev-public-key.pem'), 'utf8')).toBe(before);
  });

  it("openldap's entrypoint serves the directory from its environment, and refuses to start without a password", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provisio-ldap-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const entrypoint = join(root, 'deploy/docker/openldap/entrypoint.sh');
    const env = { PATH: process.env['PATH'] ?? '', LDAP_PORT: String(port), LDAP_DATA_DIR: join(dir, 'data'), LDAP_RUN_DIR: join(dir, 'run'), LDAP_DEBUG: '0' };
    expect(spawnSync('sh', [entrypoint], { env, encoding: 'utf8' })).toMatchObject({ status: 2, stderr: expect.stringContaining('set LDAP_ADMIN_PASSWORD or LDAP_ADMIN_PASSWORD_FILE') });
    const slapd = spawn('sh', [entrypoint], { env: { ...env, LDAP_SUFFIX: 'dc=example,dc=org', LDAP_ADMIN_PASSWORD: 'dev-password' }, stdio: 'ignore' });
    try {
      const search = (bind: string[]) => spawnSync('ldapsearch', ['-x', '-H', `ldap://127.0.0.1:${port}`, ...bind, '-b', 'dc=example,dc=org', '-LLL', 'dn'], { encoding: 'utf8' });
      const out = await waitFor(async () => {
        const r = search(['-D', 'cn=admin,dc=example,dc=org', '-w', 'dev-password']);
        return r.status === 0 ? r.stdout : undefined;
      }, { timeoutMs: 20_000, what: 'slapd to answer' });
      expect(out).toContain('dn: ou=people,dc=example,dc=org');
      expect(out).toContain('dn: ou=groups,dc=example,dc=org');
      // Anonymous clients see nothing; a wrong password is refused.
      expect(search([]).stdout).not.toContain('ou=people');
      expect(search(['-D', 'cn=admin,dc=example,dc=org', '-w', 'wrong']).status).toBe(49);
    } finally {
      slapd.kill('SIGTERM');
      await new Promise((r) => slapd.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
