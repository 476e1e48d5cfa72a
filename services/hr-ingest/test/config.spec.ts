import { describe, expect, it } from '@jest/globals';
import { redactConfig } from '@provisio/config';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHrIngestConfig } from '../src/config.js';

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://localhost/x',
  AUTH_PUBLIC_KEY: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};

function problems(env: Record<string, string>): string {
  try {
    loadHrIngestConfig({ ...base, ...env });
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('hr-ingest configuration', () => {
  it('has working defaults: 20 % brake, default mover attributes, UTC, SCIM source scim, webhook off', () => {
    const c = loadHrIngestConfig(base);
    expect(c.brake).toEqual({ maxLeaverShare: 0.2, maxLeaverCount: undefined });
    expect([...c.policy.moverAttributes].sort()).toEqual(['company', 'costCenter', 'department', 'division', 'jobTitle', 'location', 'managerPersonId']);
    expect(c.policy.timeZones.defaultZone).toBe('UTC');
    expect(c.SCIM_SOURCE).toBe('scim');
    expect(c.webhookSigners()).toEqual([]);
    expect(c.HR_MAX_CLOCK_SKEW).toBe(300_000);
  });

  it('reads HR_MAX_CLOCK_SKEW as seconds or with a unit, and refuses anything else', () => {
    expect(loadHrIngestConfig({ ...base, HR_MAX_CLOCK_SKEW: '90' }).HR_MAX_CLOCK_SKEW).toBe(90_000);
    expect(loadHrIngestConfig({ ...base, HR_MAX_CLOCK_SKEW: '2m' }).HR_MAX_CLOCK_SKEW).toBe(120_000);
    expect(loadHrIngestConfig({ ...base, HR_MAX_CLOCK_SKEW: '1h' }).HR_MAX_CLOCK_SKEW).toBe(3_600_000);
    expect(problems({ HR_MAX_CLOCK_SKEW: 'soon' })).toContain('HR_MAX_CLOCK_SKEW');
  });

  it('reads shares as 0.1 or 10 %, zone maps as YAML or JSON, webhook secrets in whsec_ form (kept out of logs)', () => {
    const c = loadHrIngestConfig({
      ...base,
      HR_BRAKE_MAX_LEAVER_SHARE: '10 %',
      HR_BRAKE_MAX_LEAVERS: '500',
      HR_MOVER_ATTRIBUTES: 'department, manager, custom.grade',
      HR_DEFAULT_TIME_ZONE: 'Europe/Paris',
      HR_TIME_ZONES: 'locations:\n  Berlin HQ: Europe/Berlin\ncountries:\n  US: America/New_York\n',
      WEBHOOK_SECRET: 'whsec_c2VjcmV0LWtleS0x, whsec_c2VjcmV0LWtleS0y',
    });
    expect(c.brake).toEqual({ maxLeaverShare: 0.1, maxLeaverCount: 500 });
    expect([...c.policy.moverAttributes]).toEqual(['department', 'managerPersonId', 'custom.grade']);
    expect(c.policy.timeZones.defaultZone).toBe('Europe/Paris');
    expect(c.policy.timeZones.byLocation.get('berlin hq')).toBe('Europe/Berlin');
    expect(c.webhookSigners().map((k) => `${k.key.toString()}@${k.source}`)).toEqual(['secret-key-1@null', 'secret-key-2@null']);
    // What the service logs at start (redacted) shows neither the secret nor the key bytes.
    const logged = JSON.stringify(redactConfig(c as unknown as Record<string, unknown>));
    expect(logged).not.toContain('c2VjcmV0');
    expect(logged).not.toContain('secret-key');
  });

  it('reads secrets and maps from files (NAME_FILE)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hr-config-'));
    try {
      writeFileSync(join(dir, 'secret'), 'whsec_c2VjcmV0LWtleS0x\n');
      writeFileSync(join(dir, 'zones.yaml'), 'countries:\n  JP: Asia/Tokyo\n');
      const c = loadHrIngestConfig({ ...base, WEBHOOK_SECRET_FILE: join(dir, 'secret'), HR_TIME_ZONES_FILE: join(dir, 'zones.yaml') });
      expect(c.webhookSigners().map((k) => k.key.toString())).toEqual(['secret-key-1']);
      expect(c.policy.timeZones.byCountry.get('JP')).toBe('Asia/Tokyo');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads per-source webhook secrets from files (WEBHOOK_SOURCE_SECRETS) and names a bad entry without its content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hr-config-'));
    try {
      writeFileSync(join(dir, 'bamboo'), 'whsec_c2VjcmV0LWtleS0x, whsec_c2VjcmV0LWtleS0y\n');
      writeFileSync(join(dir, 'plain'), 'not-a-whsec-secret');
      const c = loadHrIngestConfig({ ...base, WEBHOOK_SECRET: 'whsec_Z2xvYmFs', WEBHOOK_SOURCE_SECRETS: JSON.stringify({ bamboo: join(dir, 'bamboo') }) });
      expect(c.webhookSigners().map((k) => `${k.key.toString()}@${k.source}`)).toEqual(['global@null', 'secret-key-1@bamboo', 'secret-key-2@bamboo']);
      const bad = problems({ WEBHOOK_SOURCE_SECRETS: `plain: ${join(dir, 'plain')}\nmissing: ${join(dir, 'nope')}\nBad Source: ${join(dir, 'bamboo')}` });
      expect(bad).toContain('WEBHOOK_SOURCE_SECRETS: plain:');
      expect(bad).toContain('WEBHOOK_SOURCE_SECRETS: missing: cannot read');
      expect(bad).toContain('WEBHOOK_SOURCE_SECRETS: Bad Source: not a source name');
      expect(bad).not.toContain('not-a-whsec-secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad values, naming the variable', () => {
    expect(problems({ HR_BRAKE_MAX_LEAVER_SHARE: '120%' })).toContain('HR_BRAKE_MAX_LEAVER_SHARE');
    expect(problems({ HR_TIME_ZONES: '{"locations": {"Mars": "Mars/Olympus"}}' })).toContain('HR_TIME_ZONES: locations.Mars');
    expect(problems({ HR_DEFAULT_TIME_ZONE: 'CEST' })).toContain('HR_DEFAULT_TIME_ZONE');
    expect(problems({ HR_MOVER_ATTRIBUTES: 'department,shoeSize' })).toContain('shoeSize');
    expect(problems({ WEBHOOK_SECRET: 'plain-secret' })).toContain('WEBHOOK_SECRET');
    expect(problems({ SCIM_ATTRIBUTE_MAP: '{"urn:x:extension:1.0:User:Start": "startDate"}' })).toContain('startDate is not a canonical attribute');
  });
});
