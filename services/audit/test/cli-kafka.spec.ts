import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@provisio/config';
import { aclBindings, userName } from '@provisio/kafka-admin';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliGroupId, cliKafka } from '../src/cli-kafka.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

/** Whether the audit principal may join `group` (a Read binding on a group prefix or name). */
const auditMayUse = (group: string, topicPrefix: string) =>
  aclBindings({ topicPrefix }).some(
    (b) => b.user === userName('audit') && b.resourceType === 'group' && b.operation === 'Read' && (b.patternType === 'prefix' ? group.startsWith(b.resourceName) : group === b.resourceName),
  );

describe('provisio-audit Kafka options', () => {
  it('connects like the services: TLS with the CA file, SASL with the password read from its file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-cli-kafka-'));
    try {
      writeFileSync(join(dir, 'ca.crt'), CA);
      writeFileSync(join(dir, 'password'), 's3cret\n');
      const { config, topicPrefix } = cliKafka({
        KAFKA_BROKERS: 'kafka-0.example:9093,kafka-1.example:9093',
        KAFKA_TOPIC_PREFIX: 'site1.',
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: join(dir, 'ca.crt'),
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'provisio-audit',
        KAFKA_SASL_PASSWORD_FILE: join(dir, 'password'),
      });
      expect(config.brokers).toEqual(['kafka-0.example:9093', 'kafka-1.example:9093']);
      expect(config.ssl).toEqual({ rejectUnauthorized: true, ca: [CA] });
      expect(config.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'provisio-audit', password: 's3cret' });
      expect(config.clientId).toBe('provisio-audit-cli');
      expect(topicPrefix).toBe('site1.');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stays plain without TLS or SASL settings (the local stack)', () => {
    const { config, topicPrefix } = cliKafka({ KAFKA_BROKERS: '127.0.0.1:19092' });
    expect(config.ssl).toBeUndefined();
    expect(config.sasl).toBeUndefined();
    expect(topicPrefix).toBe('');
  });

  it('rejects incomplete SASL settings, naming the variables and never a value', () => {
    try {
      cliKafka({ KAFKA_BROKERS: '127.0.0.1:19092', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 'hunter2' });
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toMatch(/KAFKA_SASL_USERNAME/);
      expect((e as ConfigError).message).not.toContain('hunter2');
    }
  });

  it.each(['', 'site1.'])("reads checkpoints in a group inside audit's group ACL (topic prefix '%s'), never audit's own group", (prefix) => {
    const group = cliGroupId(prefix);
    expect(group.startsWith(`${prefix}audit`)).toBe(true);
    expect(group).not.toBe(`${prefix}audit`);
    expect(auditMayUse(group, prefix)).toBe(true);
    // Two runs never share a group.
    expect(cliGroupId(prefix, 'a')).not.toBe(cliGroupId(prefix, 'b'));
    // The group the CLI used before was outside the ACL.
    expect(auditMayUse(`provisio-audit-cli-1-2`, prefix)).toBe(false);
  });
});
