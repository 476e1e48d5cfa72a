import { describe, expect, it } from '@jest/globals';
import { SERVICES, serviceEnv, type StackEndpoints } from '../src/index.js';

const stack: StackEndpoints = {
  kafkaBrokers: ['127.0.0.1:19092'],
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/provisio',
  serverUrl: 'postgres://postgres@127.0.0.1:5432',
  authPublicKeyFile: '/x/dev-public-key.pem',
  audit: { runtimeDatabaseUrl: 'postgres://provisio_audit_app:pw@127.0.0.1:5432/provisio', signingKeyFile: '/x/audit/key.pem', piiKeyFile: '/x/audit/kek.b64' },
};
const spec = (name: string) => SERVICES.find((s) => s.name === name)!;

describe('local stack environment', () => {
  it('runs audit as its least-privilege role, migrating as the stack user, with its local keys', () => {
    const env = serviceEnv(spec('audit'), stack, {});
    expect(env).toMatchObject({
      DATABASE_URL: stack.audit!.runtimeDatabaseUrl,
      DATABASE_MIGRATION_URL: stack.databaseUrl,
      AUDIT_SIGNING_KEY_FILE: '/x/audit/key.pem',
      AUDIT_PII_KEY_FILE: '/x/audit/kek.b64',
    });
  });

  it('keeps other services on the stack user, and audit too when no runtime role could be made', () => {
    expect(serviceEnv(spec('policy'), stack, {})).not.toHaveProperty('DATABASE_MIGRATION_URL');
    expect(serviceEnv(spec('policy'), stack, {})['DATABASE_URL']).toBe(stack.databaseUrl);
    const env = serviceEnv(spec('audit'), { ...stack, audit: { ...stack.audit!, runtimeDatabaseUrl: undefined } }, { AUDIT_SIGNING_KEY: 'given' });
    expect(env['DATABASE_URL']).toBe(stack.databaseUrl);
    // Audit migrates at start only when given the owner: locally that is the stack user.
    expect(env['DATABASE_MIGRATION_URL']).toBe(stack.databaseUrl);
    expect(env).not.toHaveProperty('AUDIT_SIGNING_KEY_FILE');
  });

  it('gives every connector the targets setting it requires: the local PostgreSQL for connector-postgres, none for LDAP and SCIM unless given', () => {
    expect(serviceEnv(spec('connector-postgres'), stack, {})['TARGET_POSTGRES_URL']).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:5432\/.+_target$/);
    for (const name of ['connector-ldap', 'connector-scim']) {
      expect(serviceEnv(spec(name), stack, {})['CONNECTOR_TARGETS']).toBe('[]');
      expect(serviceEnv(spec(name), stack, { CONNECTOR_TARGETS: '[{"id":"x"}]' })['CONNECTOR_TARGETS']).toBe('[{"id":"x"}]');
      expect(serviceEnv(spec(name), stack, { CONNECTOR_TARGETS_FILE: '/t.yaml' })).not.toHaveProperty('CONNECTOR_TARGETS');
    }
  });
});
