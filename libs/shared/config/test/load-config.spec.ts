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

  it('checks rules spanning several variables once each one is valid', () => {
    expect(() => loadConfig(schema, { KAFKA_BROKERS: 'k:1', DATABASE_URL: 'postgres://h/db', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 's3cret' })).toThrow(
      /KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required/,
    );
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
