import { quoteIdent } from '@provisio/persistence';
import pg from 'pg';

/** What the runtime role can do to the audit tables, as PostgreSQL reports it. */
export interface PrivilegeReport {
  runtimeRole: string;
  owner: string;
  /** True when the runtime role is a different role than the tables' owner and cannot change rows. */
  leastPrivilege: boolean;
  problems: string[];
}

const APPEND_ONLY = ['records', 'record_positions', 'checkpoints', 'replays', 'chain_meta'];
/** Tables only retention (the owner) writes: the runtime role only reads them. */
const READ_ONLY = ['access_baseline', 'carried_commands'];

/**
 * Grants the runtime role exactly what audit needs, as the owner (DATABASE_MIGRATION_URL):
 * INSERT and SELECT on the append-only tables, never UPDATE, DELETE or TRUNCATE; the person-key
 * and cursor tables it maintains; and the partition function. (Audit writes no outbox: its
 * store is the source of its feeds.)
 */
export async function grantRuntimePrivileges(ownerUrl: string, schema: string, runtimeRole: string): Promise<void> {
  const s = quoteIdent(schema);
  const r = quoteIdent(runtimeRole);
  const client = new pg.Client({ connectionString: ownerUrl, application_name: 'provisio-audit-grants' });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
    for (const t of APPEND_ONLY) {
      await client.query(`REVOKE ALL ON ${s}.${t} FROM PUBLIC`);
      await client.query(`REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${s}.${t} FROM ${r}`);
      await client.query(`GRANT SELECT, INSERT ON ${s}.${t} TO ${r}`);
    }
    await client.query(`GRANT SELECT, INSERT, UPDATE ON ${s}.person_keys, ${s}.feed_cursors TO ${r}`);
    await client.query(`GRANT SELECT, UPDATE ON ${s}.key_generation TO ${r}`);
    // Written by retention (the owner) only.
    await client.query(`GRANT SELECT ON ${s}.access_baseline, ${s}.carried_commands TO ${r}`);
    await client.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
    // So the service can check at start that the schema is migrated (it does not migrate).
    await client.query(`GRANT SELECT ON ${s}.typeorm_migrations TO ${r}`);
    await client.query(`GRANT EXECUTE ON FUNCTION ${s}.ensure_record_partitions(timestamptz) TO ${r}`);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    await client.end();
  }
}

/** Checks, from the runtime connection, that it cannot change what audit appended. */
export async function checkRuntimePrivileges(query: (sql: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>, schema: string): Promise<PrivilegeReport> {
  const problems: string[] = [];
  const who = await query(`SELECT current_user AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass FROM pg_roles r WHERE r.rolname = current_user`);
  const role = String(who.rows[0]?.['role'] ?? '');
  if (who.rows[0]?.['superuser']) problems.push(`runtime role ${role} is a superuser`);
  const owner = await query(`SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'checkpoints'`, [schema]);
  const ownerRole = String(owner.rows[0]?.['tableowner'] ?? '');
  const parent = await query(`SELECT pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'records'`, [schema]);
  const recordsOwner = String(parent.rows[0]?.['owner'] ?? ownerRole);
  const member = await query(`SELECT pg_has_role(current_user, $1, 'MEMBER') AS member`, [recordsOwner]);
  if (member.rows[0]?.['member']) problems.push(`runtime role ${role} owns the audit tables (or is a member of their owner ${recordsOwner})`);
  for (const t of APPEND_ONLY) {
    const p = await query(
      `SELECT has_table_privilege(current_user, $1, 'UPDATE') AS u, has_table_privilege(current_user, $1, 'DELETE') AS d, has_table_privilege(current_user, $1, 'TRUNCATE') AS t`,
      [`${quoteIdent(schema)}.${t}`],
    );
    const row = p.rows[0] ?? {};
    const can = ['u', 'd', 't'].filter((k) => row[k]).map((k) => ({ u: 'UPDATE', d: 'DELETE', t: 'TRUNCATE' })[k]);
    if (can.length > 0) problems.push(`runtime role ${role} may ${can.join(', ')} ${schema}.${t}`);
  }
  for (const t of READ_ONLY) {
    const p = await query(`SELECT has_table_privilege(current_user, $1, 'INSERT, UPDATE, DELETE, TRUNCATE') AS w`, [`${quoteIdent(schema)}.${t}`]);
    if (p.rows[0]?.['w']) problems.push(`runtime role ${role} may write ${schema}.${t}`);
  }
  return { runtimeRole: role, owner: recordsOwner, leastPrivilege: problems.length === 0, problems };
}

/** Migrations of `expected` that the schema has not applied (all of them when it cannot tell). */
export async function pendingMigrations(query: (sql: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>, schema: string, expected: string[]): Promise<string[]> {
  let applied: Set<string>;
  try {
    const r = await query(`SELECT name FROM ${quoteIdent(schema)}.typeorm_migrations`);
    applied = new Set(r.rows.map((x) => String(x['name'])));
  } catch (e) {
    const code = (e as { code?: string }).code;
    // No schema or table yet (42P01, 3F000), or no right to read it (42501): not migrated for us.
    if (code === '42P01' || code === '3F000' || code === '42501') return expected;
    throw e;
  }
  return expected.filter((n) => !applied.has(n));
}
