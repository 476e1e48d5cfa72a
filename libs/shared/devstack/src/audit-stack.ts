import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { dataDir } from './paths.js';

/** The local stack's least-privilege database role for the audit service (cluster-wide, stable name). */
export const AUDIT_RUNTIME_ROLE = 'provisio_audit_app';

export interface AuditStackSettings {
  /** DATABASE_URL of audit: the runtime role, which may only INSERT and SELECT audit rows. */
  runtimeDatabaseUrl: string | undefined;
  signingKeyFile: string;
  piiKeyFile: string;
}

function secretFile(dir: string, name: string, make: () => string): string {
  const file = join(dir, name);
  if (!existsSync(file)) writeFileSync(file, make(), { mode: 0o600 });
  return file;
}

/**
 * Audit's local keys (checkpoint signing key, PII key-encryption key) in .data/audit, and its
 * runtime role, created idempotently; the schema owner stays the stack's database user
 * (DATABASE_MIGRATION_URL). When the database user may not create roles, audit runs with the
 * stack's credentials and says so at start.
 */
/** Audit's development keys in .data/audit (created once): checkpoint signing key and PII key-encryption key. */
export function ensureAuditKeys(): { dir: string; signingKeyFile: string; piiKeyFile: string } {
  const dir = dataDir('audit');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const signingKeyFile = secretFile(dir, 'checkpoint-signing-key.pem', () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const piiKeyFile = secretFile(dir, 'pii-kek.b64', () => randomBytes(32).toString('base64'));
  return { dir, signingKeyFile, piiKeyFile };
}

export async function ensureAuditStack(databaseUrl: string, log: (l: string) => void = () => undefined): Promise<AuditStackSettings> {
  const { dir, signingKeyFile, piiKeyFile } = ensureAuditKeys();
  const password = readFileSync(secretFile(dir, 'runtime-role-password', () => randomBytes(24).toString('base64url')), 'utf8').trim();
  const c = new pg.Client({ connectionString: databaseUrl });
  try {
    await c.connect();
    const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [AUDIT_RUNTIME_ROLE]);
    const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
    await c.query(`${verb} ROLE ${AUDIT_RUNTIME_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD '${password}'`);
  } catch (e) {
    if ((e as { code?: string }).code === '42710') {
      // created concurrently by another start
    } else {
      log(`cannot create the audit runtime role (${(e as Error).message}); audit uses the stack's database user`);
      return { runtimeDatabaseUrl: undefined, signingKeyFile, piiKeyFile };
    }
  } finally {
    await c.end().catch(() => undefined);
  }
  const u = new URL(databaseUrl);
  u.username = AUDIT_RUNTIME_ROLE;
  u.password = password;
  return { runtimeDatabaseUrl: u.toString(), signingKeyFile, piiKeyFile };
}
