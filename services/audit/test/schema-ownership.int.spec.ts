import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '@provisio/devstack';
import { auditTestKeys, createTestDatabase, createTestRole, serviceTestEnv, uniqueTopicPrefix, type TestDatabase, type TestRole } from '@provisio/testing';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.js';
import { loadAuditConfig } from '../src/config.js';

/**
 * Production layout: a job holds the owner's credentials (`provisio-audit migrate`, `provisio-audit
 * retention`), the service only its runtime role's (DATABASE_URL, no DATABASE_MIGRATION_URL).
 */
describe('audit without the owner credentials', () => {
  let db: TestDatabase;
  let role: TestRole;
  const cli = join(projectRoot(), 'services', 'audit', 'dist', 'cli.js');
  const run = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env } });

  beforeAll(async () => {
    db = await createTestDatabase('auditowner');
    role = await createTestRole(db.url, 'audit_rt');
  }, 60_000);

  afterAll(async () => {
    await db?.drop();
    await role?.drop();
  });

  it('refuses to start on a schema that is not migrated, migrates through the CLI, then starts with DATABASE_URL only', async () => {
    const env = serviceTestEnv({ databaseUrl: role.url, topicPrefix: uniqueTopicPrefix(), extra: { AUDIT_REQUIRE_LEAST_PRIVILEGE: 'true' } });
    expect(env).not.toHaveProperty('DATABASE_MIGRATION_URL');
    await expect(bootstrap(env)).rejects.toThrow(/not migrated.*provisio-audit migrate/);

    const migrated = run(['migrate', '--require-least-privilege'], { DATABASE_URL: role.url, DATABASE_MIGRATION_URL: db.url });
    expect({ status: migrated.status, stderr: migrated.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(migrated.stdout)).toMatchObject({ runtimeRole: role.name, leastPrivilege: true, problems: [] });

    const service = await bootstrap(env);
    try {
      // The service holds no owner credentials and its role can only append.
      const c = new pg.Client({ connectionString: role.url });
      await c.connect();
      try {
        await expect(c.query('DELETE FROM audit.records')).rejects.toMatchObject({ code: '42501' });
        await expect(c.query('DROP TABLE audit.checkpoints')).rejects.toMatchObject({ code: '42501' });
        // What retention carries forward is read, never written, by the service.
        await expect(c.query('SELECT count(*) FROM audit.access_baseline')).resolves.toMatchObject({ rowCount: 1 });
        await expect(c.query(`INSERT INTO audit.carried_commands (command_id, anchor_seq, state, groups, version, topic, kafka_partition, kafka_offset) VALUES ('x', 1, 'ACTIVE', '{}', 1, 't', 0, 0)`)).rejects.toMatchObject({ code: '42501' });
        await expect(c.query('DELETE FROM audit.access_baseline')).rejects.toMatchObject({ code: '42501' });
      } finally {
        await c.end();
      }
    } finally {
      await service.close();
    }
  }, 120_000);

  it('migrate exits 1 with --require-least-privilege when the runtime role is the owner, and 2 without the owner', () => {
    const same = run(['migrate', '--require-least-privilege'], { DATABASE_URL: db.url, DATABASE_MIGRATION_URL: db.url });
    expect(same.status).toBe(1);
    expect(JSON.parse(same.stdout)).toMatchObject({ leastPrivilege: false });
    const missing = run(['migrate'], { DATABASE_URL: role.url });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/DATABASE_MIGRATION_URL/);
  });

  it('runs retention as a command with the owner, and refuses in-process retention without it', () => {
    const keys = auditTestKeys();
    const r = run(['retention', '--keep-months', '12'], { DATABASE_URL: role.url, DATABASE_MIGRATION_URL: db.url, AUDIT_SIGNING_KEY: keys.signingKey, AUDIT_PII_KEY: keys.piiKey });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ dropped: [] });
    expect(() => loadAuditConfig({ ...serviceTestEnv({ databaseUrl: role.url, topicPrefix: 'x' }), AUDIT_RETENTION_MONTHS: '12' })).toThrow(/in-process retention needs DATABASE_MIGRATION_URL/);
  });
});
