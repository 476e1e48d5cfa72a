import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, databaseEnv, kafkaEnv, loadConfig, redactConfig, refineKafka } from '../src/index.js';

const schema = z.object({ ...kafkaEnv, ...databaseEnv }).superRefine(refineKafka);

describe('loadConfig', () => {
  it('parses and types the environment, with defaults', () => {
    const c = loadConfig(schema, { KAFKA_BROKERS: 'a:9092, b:9093', DATABASE_URL: 'postgres://u@h/db' });
    expect(c.KAFKA_BROKERS).toEqual(['a:9092', 'b:9093']);
    expect(c.KAFKA_SSL).toBe(false);
    expect(c.DATABASE_POOL_MAX).toBe(10);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every invalid variable, never its value', () => {
    let err: unknown;
    try {
      loadConfig(schema, { KAFKA_BROKERS: 'no-port', DATABASE_URL: 'mysql://x', DATABASE_POOL_MAX: '-1', KAFKA_SASL_PASSWORD: 's3cret' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/KAFKA_BROKERS.*host:port/);
    expect(problems).toMatch(/DATABASE_URL: expected a postgres:\/\/ URL/);
    expect(problems).toMatch(/DATABASE_POOL_MAX/);
    expect((err as Error).message).not.toContain('mysql://x');
    expect(() => loadConfig(schema, { KAFKA_BROKERS: 'k:1' })).toThrow(/DATABASE_URL: required/);
  });

  it('refuses SASL without TLS, naming the settings, unless explicitly allowed for local testing', () => {
    const sasl = { KAFKA_BROKERS: 'k:1', DATABASE_URL: 'postgres://h/db', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'provisio-policy', KAFKA_SASL_PASSWORD: 's3cret' };
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(schema, env);
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    expect(problems(sasl)).toEqual([
      'KAFKA_SASL_MECHANISM: SASL without TLS would send credentials and data in clear text: set KAFKA_SSL=true (with KAFKA_SSL_CA_FILE for a private CA), or KAFKA_SASL_ALLOW_PLAINTEXT=true for local testing only',
    ]);
    expect(problems({ ...sasl, KAFKA_SSL: 'false' })).toHaveLength(1);
    // TLS on: by KAFKA_SSL, or by a TLS file (which turns TLS on in the client too).
    expect(problems({ ...sasl, KAFKA_SSL: 'true' })).toEqual([]);
    expect(problems({ ...sasl, KAFKA_SSL_CA_FILE: '/ca.crt' })).toEqual([]);
    // The explicit opt-in for a local SASL_PLAINTEXT listener.
    expect(problems({ ...sasl, KAFKA_SASL_ALLOW_PLAINTEXT: 'true' })).toEqual([]);
    expect(problems({ ...sasl, KAFKA_SASL_ALLOW_PLAINTEXT: 'maybe' })[0]).toMatch(/^KAFKA_SASL_ALLOW_PLAINTEXT/);
    // No SASL mechanism: nothing is sent, plain text is fine (the development overlay).
    expect(problems({ KAFKA_BROKERS: 'k:1', DATABASE_URL: 'postgres://h/db', KAFKA_SASL_USERNAME: 'provisio-policy' })).toEqual([]);
  });

  it('checks rules spanning several variables once each one is valid', () => {
    expect(() => loadConfig(schema, { KAFKA_BROKERS: 'k:1', DATABASE_URL: 'postgres://h/db', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 's3cret' })).toThrow(
      /KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required/,
    );
  });

  it('takes the consumer session timeout within what the broker accepts by default (6000 to 1800000 ms), 30000 when unset', () => {
    const base = { KAFKA_BROKERS: 'k:1', DATABASE_URL: 'postgres://h/db' };
    expect(loadConfig(schema, base).KAFKA_SESSION_TIMEOUT_MS).toBe(30000);
    expect(loadConfig(schema, { ...base, KAFKA_SESSION_TIMEOUT_MS: '6000' }).KAFKA_SESSION_TIMEOUT_MS).toBe(6000);
    expect(loadConfig(schema, { ...base, KAFKA_SESSION_TIMEOUT_MS: '1800000' }).KAFKA_SESSION_TIMEOUT_MS).toBe(1800000);
    expect(() => loadConfig(schema, { ...base, KAFKA_SESSION_TIMEOUT_MS: '5999' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS: at least 6000/);
    expect(() => loadConfig(schema, { ...base, KAFKA_SESSION_TIMEOUT_MS: '1800001' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS: at most 1800000/);
    expect(() => loadConfig(schema, { ...base, KAFKA_SESSION_TIMEOUT_MS: '30s' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS/);
    expect(() => loadConfig(schema, { ...base, KAFKA_SESSION_TIMEOUT_MS: '6000.5' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS/);
  });

  it('reads NAME_FILE for the variables it knows (mounted secrets) and ignores other *_FILE variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'db'), 'postgres://app:pw@db/provisio\n');
    const c = loadConfig(schema, { KAFKA_BROKERS: 'k:1', DATABASE_URL_FILE: join(dir, 'db'), TF_CLI_CONFIG_FILE: '/nope' });
    expect(c.DATABASE_URL).toBe('postgres://app:pw@db/provisio');
    expect(() => loadConfig(schema, { KAFKA_BROKERS: 'k:1', DATABASE_URL_FILE: join(dir, 'missing') })).toThrow(/DATABASE_URL_FILE: cannot read file/);
  });

  it('redacts secrets and credentials in URLs when printed', () => {
    expect(redactConfig({ DATABASE_URL: 'postgres://app:pw@db/provisio', KAFKA_SASL_PASSWORD: 'x', HTTP_PORT: 1 })).toEqual({
      DATABASE_URL: 'postgres://app:***@db/provisio',
      KAFKA_SASL_PASSWORD: '***',
      HTTP_PORT: 1,
    });
  });
});
