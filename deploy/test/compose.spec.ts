import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '@provisio/config';
import { loadPolicy } from '@provisio/policy-domain';
import { DEFAULT_KAFKA_VERSION, SERVICES, projectRoot } from '@provisio/devstack';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { runtimeLibs } from '../docker/runtime-libs.ts';
import { SERVICE_CONFIGS, knownVariables } from './service-configs.js';

interface ComposeService {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  restart?: string;
  profiles?: string[];
  volumes?: string[];
  security_opt?: string[];
  cap_drop?: string[];
  build?: { context: string; dockerfile: string; target?: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, unknown>;
  read_only?: boolean;
}

const root = projectRoot();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

/** Compose-style interpolation: ${VAR:-default} and ${VAR:?message} with nothing set. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z_]+)(?::?([-?])([^}]*))?\}/g, (_m, _name: string, op?: string, arg?: string) => (op === '-' ? (arg ?? '') : 'https://idp.example/jwks.json'));
}

describe('docker-compose.yml', () => {
  it('runs Kafka (KRaft, apache/kafka at the tested version), PostgreSQL and every service', () => {
    expect(compose.services['kafka']?.image).toBe(`apache/kafka:${DEFAULT_KAFKA_VERSION}`);
    expect(compose.services['kafka']?.environment?.['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    expect(compose.services['postgres']?.image).toMatch(/^postgres:\d+$/);
    for (const s of SERVICES) expect(Object.keys(compose.services)).toContain(s.name);
    // The broker keeps its log in the named volume (apache/kafka's default is /tmp), so topics and
    // offsets survive a recreated container as PostgreSQL's data does.
    const kafka = compose.services['kafka']!;
    const dataMount = kafka.volumes?.map((v) => v.split(':')).find(([name]) => name === 'kafka-data')?.[1];
    expect(dataMount).toBeDefined();
    expect(kafka.environment?.['KAFKA_LOG_DIRS']).toBe(dataMount);
    expect(readdirSync(join(root, 'services')).sort()).toEqual(SERVICES.map((s) => s.name).sort());
  });

  it('builds each service from the Dockerfile with its own name, and the Dockerfile copies every workspace manifest', () => {
    const dockerfile = readFileSync(join(root, 'deploy/docker/Dockerfile'), 'utf8');
    for (const s of SERVICES) {
      const svc = compose.services[s.name]!;
      expect(svc.build?.args?.['SERVICE']).toBe(s.name);
      expect(existsSync(join(root, svc.build!.context, svc.build!.dockerfile))).toBe(true);
      expect(existsSync(join(root, 'services', s.name, 'src', 'main.ts'))).toBe(true);
      expect(svc.read_only).toBe(true);
    }
    const manifests = [...readdirSync(join(root, 'libs')).flatMap((scope) => readdirSync(join(root, 'libs', scope)).map((d) => `libs/${scope}/${d}`)), ...readdirSync(join(root, 'services')).map((d) => `services/${d}`)];
    for (const m of manifests) expect(dockerfile).toContain(`COPY ${m}/package.json ${m}/`);
  });

  it('gives every service only variables it knows, and everything it requires', () => {
    for (const s of SERVICES) {
      const env = Object.fromEntries(Object.entries(compose.services[s.name]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
      const unknown = Object.keys(env).filter((k) => !knownVariables(s.name).has(k));
      expect({ service: s.name, unknown }).toEqual({ service: s.name, unknown: [] });
      // NAME_FILE variables name files inside the container: stand-ins let the schema read them.
      const files = mkdtempSync(join(tmpdir(), `compose-${s.name}-`));
      for (const [k, v] of Object.entries(env).filter(([k]) => k.endsWith('_FILE'))) {
        const f = join(files, basename(v));
        writeFileSync(f, 'stand-in');
        env[k] = f;
      }
      expect(() => loadConfig(SERVICE_CONFIGS[s.name]!, env)).not.toThrow();
      const cfg = loadConfig(SERVICE_CONFIGS[s.name]!, env) as { HTTP_PORT: number; KAFKA_BROKERS: string[]; DATABASE_URL: string };
      // The published port maps to the port the service listens on.
      expect(compose.services[s.name]!.ports?.map((p) => p.split(':').at(-1))).toEqual([String(cfg.HTTP_PORT)]);
      // Hosts it connects to are services of this file.
      for (const broker of cfg.KAFKA_BROKERS) expect(Object.keys(compose.services)).toContain(broker.split(':')[0]);
      expect(Object.keys(compose.services)).toContain(new URL(cfg.DATABASE_URL).hostname);
    }
  });

  it('gives every connector targets it can reach: the openldap service for LDAP, the compose PostgreSQL, a SCIM app only with its profile', () => {
    // NAME_FILE variables name files inside the containers: stand-in values here, only the targets matter.
    const envOf = (name: string) =>
      Object.fromEntries(Object.entries(compose.services[name]!.environment ?? {}).map(([k, v]) => (k.endsWith('_FILE') ? [k.slice(0, -5), 'stand-in'] : [k, interpolate(String(v))])));
    const targetsOf = (name: string) => (loadConfig(SERVICE_CONFIGS[name]!, envOf(name)) as { CONNECTOR_TARGETS?: Record<string, unknown>[] }).CONNECTOR_TARGETS ?? [];
    const ldap = targetsOf('connector-ldap');
    expect(ldap.length).toBeGreaterThan(0);
    const directory = compose.services['openldap']!;
    const suffix = directory.environment!['LDAP_SUFFIX']!;
    for (const t of ldap) {
      const url = new URL(String(t['url']));
      expect(url.hostname).toBe('openldap');
      // The port the directory listens on (its Dockerfile's LDAP_PORT), and its admin DN and password.
      expect(readFileSync(join(root, directory.build!.context, 'Dockerfile'), 'utf8')).toContain(`LDAP_PORT=${url.port}`);
      expect(t['bindDn']).toBe(`cn=admin,${suffix}`);
      expect(t['bindPassword']).toBe(directory.environment!['LDAP_ADMIN_PASSWORD']);
      expect(String(t['usersBase'])).toMatch(new RegExp(`,${suffix}$`));
      // The dev image has no ppolicy overlay.
      expect((t['disable'] as { method: string }).method).not.toBe('ppolicy');
    }
    expect((loadConfig(SERVICE_CONFIGS['connector-postgres']!, envOf('connector-postgres')) as { TARGET_POSTGRES_URL: string }).TARGET_POSTGRES_URL).toMatch(/@postgres:5432\//);
    expect(targetsOf('connector-scim').map((t) => t['id'])).toEqual(['scim']);
    expect(compose.services['connector-scim']!.profiles).toEqual(['scim']);
  });

  it('publishes every port on the loopback interface only (development passwords and a committed webhook secret)', () => {
    const published = Object.entries(compose.services).flatMap(([name, svc]) => (svc.ports ?? []).map((port) => ({ name, port })));
    expect(published.length).toBeGreaterThanOrEqual(SERVICES.length + 2);
    for (const { name, port } of published) expect({ name, port }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:\d+:\d+$/) });
  });

  it('runs the bundled sample policy (no POLICY_PATH), whose targets are exactly the compose connectors\' targets', () => {
    expect(compose.services['policy']!.environment?.['POLICY_PATH']).toBeUndefined();
    const result = loadPolicy([{ name: 'default.yaml', content: readFileSync(join(root, 'services/policy/policies/default.yaml'), 'utf8') }]);
    expect(result.ok ? [] : result.problems).toEqual([]);
    const policyTargets = result.ok ? result.policy.targets.map((t) => t.id).sort() : [];
    const envOf = (name: string) =>
      Object.fromEntries(Object.entries(compose.services[name]!.environment ?? {}).map(([k, v]) => (k.endsWith('_FILE') ? [k.slice(0, -5), 'stand-in'] : [k, interpolate(String(v))])));
    const connectorTargets = SERVICES.filter((s) => s.name.startsWith('connector-')).flatMap((s) => {
      const cfg = loadConfig(SERVICE_CONFIGS[s.name]!, envOf(s.name)) as { CONNECTOR_TARGETS?: { id: string }[]; TARGET_POSTGRES_ID?: string; TARGET_POSTGRES_URL?: string };
      return [...(cfg.CONNECTOR_TARGETS ?? []).map((t) => t.id), ...(cfg.TARGET_POSTGRES_URL && cfg.TARGET_POSTGRES_ID ? [cfg.TARGET_POSTGRES_ID] : [])];
    });
    expect(connectorTargets.sort()).toEqual(policyTargets);
  });

  it('starts each connector after the compose services its targets live on', () => {
    const envOf = (name: string) =>
      Object.fromEntries(Object.entries(compose.services[name]!.environment ?? {}).map(([k, v]) => (k.endsWith('_FILE') ? [k.slice(0, -5), 'stand-in'] : [k, interpolate(String(v))])));
    for (const s of SERVICES.filter((x) => x.name.startsWith('connector-'))) {
      const cfg = loadConfig(SERVICE_CONFIGS[s.name]!, envOf(s.name)) as { CONNECTOR_TARGETS?: Record<string, unknown>[]; TARGET_POSTGRES_URL?: string };
      const hosts = [...(cfg.CONNECTOR_TARGETS ?? []).map((t) => new URL(String(t['url'] ?? t['baseUrl'])).hostname), ...(cfg.TARGET_POSTGRES_URL ? [new URL(cfg.TARGET_POSTGRES_URL).hostname] : [])];
      for (const host of hosts.filter((h) => h in compose.services)) {
        expect({ connector: s.name, host, dependsOn: host in (compose.services[s.name]!.depends_on ?? {}) }).toEqual({ connector: s.name, host, dependsOn: true });
      }
    }
    expect(Object.keys(compose.services['connector-ldap']!.depends_on ?? {})).toContain('openldap');
  });

  it('references only services and volumes that exist', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const dep of Object.keys(svc.depends_on ?? {})) expect({ name, dep, exists: dep in compose.services }).toEqual({ name, dep, exists: true });
    }
    const volumes = Object.values(compose.services).flatMap((s) => ((s as { volumes?: string[] }).volumes ?? []).map((v) => v.split(':')[0]!));
    // Named volumes are declared; bind mounts are directories of the repository.
    for (const v of volumes.filter((x) => !x.startsWith('.'))) expect(Object.keys(compose.volumes ?? {})).toContain(v);
    for (const v of volumes.filter((x) => x.startsWith('.'))) expect({ v, exists: existsSync(join(root, v)) }).toEqual({ v, exists: true });
  });

  it('runs audit as a role of its own that owns nothing, and makes it refuse to start with more rights', () => {
    const env = compose.services['audit']!.environment as Record<string, string>;
    const runtime = new URL(env['DATABASE_URL']!);
    const owner = new URL(env['DATABASE_MIGRATION_URL']!);
    expect(runtime.username).not.toBe(owner.username);
    expect(env['AUDIT_REQUIRE_LEAST_PRIVILEGE']).toBe('true');
    // The role is created by the database's init script, with the password the URL uses.
    const init = readFileSync(join(root, 'deploy/docker/postgres/10-audit-runtime-role.sql'), 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('--'))
      .join('\n');
    expect(init).toContain(`CREATE ROLE ${runtime.username} LOGIN PASSWORD '${decodeURIComponent(runtime.password)}'`);
    expect(init).not.toMatch(/SUPERUSER|CREATEROLE|CREATEDB|GRANT/i);
  });

  it('runs the topic and signing-key jobs once, before every service, with commands that exist in the image', () => {
    const jobs = ['kafka-init', 'auth-keys'];
    for (const j of jobs) expect({ job: j, restart: compose.services[j]?.restart }).toEqual({ job: j, restart: 'no' });
    for (const s of SERVICES) {
      for (const j of jobs) expect({ service: s.name, job: j, condition: (compose.services[s.name]!.depends_on?.[j] as { condition?: string })?.condition }).toEqual({ service: s.name, job: j, condition: 'service_completed_successfully' });
    }
    // /app/<workspace>/dist/<file>.js in the image is <workspace>/src/<file>.ts here.
    const sourceOf = (imagePath: string) => imagePath.replace(/^\/app\//, '').replace('/dist/', '/src/').replace(/\.js$/, '.ts');
    const commands = Object.entries(compose.services).flatMap(([name, svc]) => [...(svc.entrypoint ?? []), ...(svc.command ?? [])].filter((a) => a.startsWith('/app/')).map((a) => ({ name, a })));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const { name, a } of commands) expect({ name, file: sourceOf(a), exists: existsSync(join(root, sourceOf(a))) }).toEqual({ name, file: sourceOf(a), exists: true });
    // ... and in the image the job runs: a service image carries only its runtime libraries
    // (deploy/docker/runtime-libs.ts), the dev-tools target every library.
    for (const { name, a } of commands) {
      const svc = compose.services[name]!;
      const workspace = a.replace(/^\/app\//, '').split('/').slice(0, 3).join('/');
      const inImage = svc.build?.target === 'dev-tools' || runtimeLibs(svc.build!.args!['SERVICE']!, root).includes(workspace);
      expect({ name, workspace, target: svc.build?.target ?? 'runtime', inImage }).toEqual({ name, workspace, target: svc.build?.target ?? 'runtime', inImage: true });
    }
    // Development tooling runs from the dev-tools image only, never from a service image.
    for (const j of ['auth-keys', 'token']) expect({ job: j, target: compose.services[j]!.build?.target, image: compose.services[j]!.image }).toEqual({ job: j, target: 'dev-tools', image: 'provisio/dev-tools:dev' });
    for (const s of SERVICES) expect(compose.services[s.name]!.build?.target).toBeUndefined();
    expect(compose.services['kafka-init']!.command).toEqual(expect.arrayContaining(['apply', '--no-acls']));
    expect(compose.services['token']!.profiles).toEqual(['tools']);
  });

  it('lets services trust the development key the auth-keys job writes, read-only', () => {
    const keysEnv = compose.services['auth-keys']!.environment!;
    const keysMount = compose.services['auth-keys']!.volumes!.find((v) => v.startsWith('auth-keys:'))!.split(':')[1]!;
    expect(keysEnv['PROVISIO_DATA_DIR']).toBe(keysMount);
    for (const s of SERVICES) {
      const svc = compose.services[s.name]!;
      const mount = svc.volumes!.find((v) => v.startsWith('auth-keys:'))!;
      expect(mount).toBe(`auth-keys:${keysMount}:ro`);
      // dev-auth.ts writes <PROVISIO_DATA_DIR>/auth/dev-public-key.pem.
      expect(svc.environment!['AUTH_PUBLIC_KEY_FILE']).toBe(`${keysMount}/auth/dev-public-key.pem`);
      expect(interpolate(svc.environment!['AUTH_ISSUER']!)).toBe('provisio-dev');
    }
  });

  it('runs every container read-only, without capabilities or privilege escalation', () => {
    for (const [name, svc] of Object.entries(compose.services).filter(([n]) => !['kafka', 'postgres'].includes(n))) {
      expect({ name, read_only: svc.read_only, caps: svc.cap_drop, nnp: svc.security_opt }).toEqual({ name, read_only: true, caps: ['ALL'], nnp: ['no-new-privileges:true'] });
    }
  });

  it('builds OpenLDAP from a Dockerfile here, running its own entrypoint as a non-root user', () => {
    const ldap = compose.services['openldap']!;
    const dockerfile = readFileSync(join(root, ldap.build!.context, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^USER openldap$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["/bin/sh", "/opt/provisio-ldap/entrypoint.sh"]');
    for (const f of ['entrypoint.sh', 'bootstrap.ldif']) expect(existsSync(join(root, ldap.build!.context, f))).toBe(true);
    expect(ldap.environment!['LDAP_ADMIN_PASSWORD']).toBeTruthy();
  });
});
