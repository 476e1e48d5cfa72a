import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@provisio/config';
import { loadPolicyConfig } from '../src/config.js';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://u@h/db', AUTH_PUBLIC_KEY: 'x' };

describe('policy configuration', () => {
  it('defaults to UTC and accepts IANA time zone names', () => {
    expect(loadPolicyConfig(base).POLICY_TIME_ZONE).toBe('UTC');
    expect(loadPolicyConfig({ ...base, POLICY_TIME_ZONE: 'Europe/Berlin' }).POLICY_TIME_ZONE).toBe('Europe/Berlin');
  });

  it('refuses an unknown time zone, naming the variable', () => {
    let err: unknown;
    try {
      loadPolicyConfig({ ...base, POLICY_TIME_ZONE: 'Europe/Atlantis' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.join('\n')).toMatch(/POLICY_TIME_ZONE: must be an IANA time zone name/);
  });
});
