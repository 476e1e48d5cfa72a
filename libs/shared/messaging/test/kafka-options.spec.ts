import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toKafkaJsConfig } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kafka-options-'));
const pem = (name: string, body: string) => {
  const f = join(dir, name);
  writeFileSync(f, body);
  return f;
};
const base = { brokers: ['b:9093'], clientId: 'c' };

describe('toKafkaJsConfig', () => {
  it('maps SCRAM-SHA-512 over TLS with a private CA to kafkajs', () => {
    const ca = pem('ca.crt', '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n');
    const c = toKafkaJsConfig({ ...base, ssl: { enabled: true, caFile: ca, rejectUnauthorized: true }, sasl: { mechanism: 'scram-sha-512', username: 'provisio-policy', password: 'pw' } });
    expect(c.ssl).toEqual({ rejectUnauthorized: true, ca: ['-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n'] });
    expect(c.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'provisio-policy', password: 'pw' });
    expect(c.brokers).toEqual(['b:9093']);
  });

  it('uses TLS when a TLS file is given even if KAFKA_SSL was left false, and plain text otherwise', () => {
    const ca = pem('ca2.crt', 'CA2');
    expect(toKafkaJsConfig({ ...base, ssl: { enabled: false, caFile: ca } }).ssl).toEqual({ rejectUnauthorized: true, ca: ['CA2'] });
    expect(toKafkaJsConfig({ ...base, ssl: { enabled: false } }).ssl).toBeUndefined();
    expect(toKafkaJsConfig({ ...base, ssl: { enabled: true, rejectUnauthorized: false } }).ssl).toEqual({ rejectUnauthorized: false });
  });

  it('passes a client certificate and key for mutual TLS, and refuses one without the other', () => {
    const cert = pem('client.crt', 'CERT');
    const key = pem('client.key', 'KEY');
    expect(toKafkaJsConfig({ ...base, ssl: { enabled: true, certFile: cert, keyFile: key } }).ssl).toEqual({ rejectUnauthorized: true, cert: 'CERT', key: 'KEY' });
    expect(() => toKafkaJsConfig({ ...base, ssl: { enabled: true, certFile: cert } })).toThrow('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: a client certificate needs its private key, set both or neither');
  });

  it('names the setting and the file when a TLS file cannot be read', () => {
    expect(() => toKafkaJsConfig({ ...base, ssl: { enabled: true, caFile: join(dir, 'missing.crt') } })).toThrow(`KAFKA_SSL_CA_FILE: cannot read ${join(dir, 'missing.crt')} (ENOENT)`);
  });
});
