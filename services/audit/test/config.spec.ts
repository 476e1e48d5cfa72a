import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ConfigError } from '@provisio/config';
import { loadAuditConfig } from '../src/config.js';

const ed = () => generateKeyPairSync('ed25519');
const base = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  DATABASE_URL: 'postgres://audit@127.0.0.1:5432/provisio',
  AUTH_PUBLIC_KEY: 'x',
  AUDIT_SIGNING_KEY: ed().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  AUDIT_PII_KEY: randomBytes(32).toString('base64'),
};

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadAuditConfig(env);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

describe('audit configuration', () => {
  it('accepts valid keys and defaults the rest', () => {
    const c = loadAuditConfig(base);
    expect(c).toMatchObject({ AUDIT_CHECKPOINT_INTERVAL_MS: 30000, AUDIT_CHECKPOINT_VERIFY: 'links', AUDIT_SIEM_FORMATS: ['ocsf'], AUDIT_SIEM_PRIVILEGE_TARGET_KINDS: ['postgres'], AUDIT_REQUIRE_LEAST_PRIVILEGE: false });
    expect(c.AUDIT_RETENTION_MONTHS).toBeUndefined();
  });

  it('names the variable and the rule for missing or wrong keys, never the value', () => {
    expect(problems({ ...base, AUDIT_SIGNING_KEY: undefined, AUDIT_PII_KEY: undefined })).toEqual([
      expect.stringMatching(/^AUDIT_SIGNING_KEY: required/),
      expect.stringMatching(/^AUDIT_PII_KEY: required/),
    ]);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(problems({ ...base, AUDIT_SIGNING_KEY: rsa })).toEqual(['AUDIT_SIGNING_KEY: must be an Ed25519 private key, got rsa']);
    expect(problems({ ...base, AUDIT_PII_KEY: randomBytes(16).toString('base64') })).toEqual(['AUDIT_PII_KEY: must be exactly 32 bytes, base64-encoded']);
    expect(problems({ ...base, AUDIT_TRUSTED_KEYS: 'not pem' })).toEqual(['AUDIT_TRUSTED_KEYS: no PEM public key found']);
    expect(problems({ ...base, AUDIT_SIEM_FORMATS: 'ocsf,leef' })[0]).toMatch(/^AUDIT_SIEM_FORMATS/);
    expect(problems({ ...base, AUDIT_SIGNING_KEY: 'garbage' }).join()).not.toContain('garbage');
  });

  it('takes the replay principal as a pair of credentials for a SASL cluster, never the service principal', () => {
    const sasl = { ...base, KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'provisio-audit', KAFKA_SASL_PASSWORD: 'a' };
    expect(loadAuditConfig({ ...sasl, KAFKA_REPLAY_SASL_USERNAME: 'provisio-audit-replay', KAFKA_REPLAY_SASL_PASSWORD: 'b' })).toMatchObject({ KAFKA_REPLAY_SASL_USERNAME: 'provisio-audit-replay', KAFKA_REPLAY_SASL_PASSWORD: 'b' });
    expect(problems({ ...sasl, KAFKA_REPLAY_SASL_USERNAME: 'provisio-audit-replay' })).toEqual(['KAFKA_REPLAY_SASL_USERNAME and KAFKA_REPLAY_SASL_PASSWORD: the replay principal needs both, set both or neither']);
    expect(problems({ ...base, KAFKA_REPLAY_SASL_USERNAME: 'provisio-audit-replay', KAFKA_REPLAY_SASL_PASSWORD: 'b' })).toEqual([expect.stringMatching(/^KAFKA_REPLAY_SASL_USERNAME: replay credentials need KAFKA_SASL_MECHANISM/)]);
    expect(problems({ ...sasl, KAFKA_REPLAY_SASL_USERNAME: 'provisio-audit', KAFKA_REPLAY_SASL_PASSWORD: 'b' })).toEqual([expect.stringMatching(/^KAFKA_REPLAY_SASL_USERNAME: must be the replay principal/)]);
  });

  it('trusts extra public keys for rotation', () => {
    const old = ed().publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(problems({ ...base, AUDIT_TRUSTED_KEYS: old })).toEqual([]);
  });
});
