import { afterAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensurePostgres, stopEmbeddedPostgres } from '../src/index.js';

/** A fresh laptop without PostgreSQL: the stack falls back to an embedded server from npm. */
describe('PostgreSQL fallback', () => {
  const saved = { ...process.env };
  const dir = mkdtempSync(join(tmpdir(), 'embedded-pg-'));
  // As root, PostgreSQL runs as a separate user that must be able to reach its data folder.
  chmodSync(dir, 0o755);

  afterAll(async () => {
    await stopEmbeddedPostgres();
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts an embedded PostgreSQL when neither DATABASE_URL nor a local server answers', async () => {
    delete process.env['DATABASE_URL'];
    process.env['PROVISIO_LOCAL_POSTGRES_URL'] = 'postgres://postgres@127.0.0.1:1';
    process.env['PROVISIO_EMBEDDED_POSTGRES_PORT'] = String(20000 + Math.floor(Math.random() * 20000));
    process.env['PROVISIO_DATA_DIR'] = dir;
    const p = await ensurePostgres();
    expect(p).toMatchObject({ source: 'embedded', started: true });
    const c = new pg.Client({ connectionString: p.databaseUrl });
    await c.connect();
    const { rows } = await c.query<{ db: string }>('SELECT current_database() AS db');
    await c.end();
    expect(rows[0]!.db).toBe('provisio');
    expect(await stopEmbeddedPostgres()).toBe(true);
  }, 120_000);

  it('prefers DATABASE_URL when it is set, starting nothing', async () => {
    process.env['DATABASE_URL'] = 'postgres://app@db.example:5432/provisio';
    expect(await ensurePostgres()).toEqual({ serverUrl: 'postgres://app@db.example:5432', databaseUrl: 'postgres://app@db.example:5432/provisio', started: false, source: 'DATABASE_URL' });
  });
});
