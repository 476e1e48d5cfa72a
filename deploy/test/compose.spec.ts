import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '@provisio/config';
import { DEFAULT_KAFKA_VERSION, SERVICES, projectRoot } from '@provisio/devstack';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SERVICE_CONFIGS, knownVariables } from './service-configs.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
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
      expect(() => loadConfig(SERVICE_CONFIGS[s.name]!, env)).not.toThrow();
      const cfg = loadConfig(SERVICE_CONFIGS[s.name]!, env) as { HTTP_PORT: number; KAFKA_BROKERS: string[]; DATABASE_URL: string };
      // The published port maps to the port the service listens on.
      expect(compose.services[s.name]!.ports?.map((p) => p.split(':')[1])).toEqual([String(cfg.HTTP_PORT)]);
      // Hosts it connects to are services of this file.
      for (const broker of cfg.KAFKA_BROKERS) expect(Object.keys(compose.services)).toContain(broker.split(':')[0]);
      expect(Object.keys(compose.services)).toContain(new URL(cfg.DATABASE_URL).hostname);
    }
  });

  it('references only services and volumes that exist', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const dep of Object.keys(svc.depends_on ?? {})) expect({ name, dep, exists: dep in compose.services }).toEqual({ name, dep, exists: true });
    }
    const volumes = Object.values(compose.services).flatMap((s) => ((s as { volumes?: string[] }).volumes ?? []).map((v) => v.split(':')[0]!));
    for (const v of volumes) expect(Object.keys(compose.volumes ?? {})).toContain(v);
  });
});
