import type { DesiredAccount } from '@provisio/connector-domain';
import { quoteIdent, type SqlClient } from '@provisio/persistence';

export interface AppliedRow {
  personId: string;
  target: string;
  version: number;
  accountRef: string | null;
}

/** What one settled command changes in the applied state. */
export interface AppliedUpdate {
  personId: string;
  target: string;
  /** Applied version (APPLIED / NO_CHANGE); null leaves the applied version as it is (FAILED). */
  appliedVersion: number | null;
  desired: DesiredAccount;
  accountRef: string | null;
  status: string;
  error: string | null;
}

export interface StoredDesired {
  desired: DesiredAccount;
  accountRef: string | null;
  desiredVersion: number;
}

const pairKey = (personId: string, target: string) => `${personId}\u0000${target}`;

/**
 * The kit's memory per person × target: the newest applied version (stale commands are skipped
 * against it), the last known account ref, and the newest desired state (what reconciliation
 * compares the target with).
 */
export class AppliedStateRepository {
  private readonly table: string;

  constructor(schema: string) {
    this.table = `${quoteIdent(schema)}.applied_versions`;
  }

  static key = pairKey;

  async load(sql: SqlClient, pairs: { personId: string; target: string }[]): Promise<Map<string, AppliedRow>> {
    const out = new Map<string, AppliedRow>();
    if (pairs.length === 0) return out;
    const r = await sql.query<{ person_id: string; target: string; version: string; account_ref: string | null }>(
      `SELECT a.person_id, a.target, a.version, a.account_ref FROM ${this.table} a
       JOIN unnest($1::text[], $2::text[]) AS k(person_id, target) ON a.person_id = k.person_id AND a.target = k.target`,
      [pairs.map((p) => p.personId), pairs.map((p) => p.target)],
    );
    for (const row of r.rows) out.set(pairKey(row.person_id, row.target), { personId: row.person_id, target: row.target, version: Number(row.version), accountRef: row.account_ref });
    return out;
  }

  /** One statement for many updates; the caller guarantees one update per pair. */
  async save(sql: SqlClient, updates: AppliedUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const q = this.upsert(updates);
    await sql.query(q.text, q.values);
  }

  /**
   * The upsert of `save` as a statement to run alongside others in one statement (the result
   * writer runs it as a data-modifying CTE beside the outbox insert: one round trip, atomic
   * without a transaction). Its placeholders are $1..$9.
   */
  upsert(updates: AppliedUpdate[]): { text: string; values: unknown[] } {
    return {
      text: `INSERT INTO ${this.table} AS a (person_id, target, version, account_name, account_ref, status, desired, desired_version, last_error)
       SELECT u.person_id, u.target, COALESCE(u.applied, 0), u.account_name, u.account_ref, u.status, u.desired, u.desired_version, u.last_error
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::bigint[], $9::text[])
         AS u(person_id, target, applied, account_name, account_ref, status, desired, desired_version, last_error)
       ON CONFLICT (person_id, target) DO UPDATE SET
         version = GREATEST(a.version, COALESCE(EXCLUDED.version, 0)),
         account_name = EXCLUDED.account_name,
         account_ref = COALESCE(EXCLUDED.account_ref, a.account_ref),
         status = EXCLUDED.status,
         desired = CASE WHEN EXCLUDED.desired_version >= COALESCE(a.desired_version, 0) THEN EXCLUDED.desired ELSE a.desired END,
         desired_version = GREATEST(EXCLUDED.desired_version, COALESCE(a.desired_version, 0)),
         last_error = EXCLUDED.last_error,
         updated_at = now()`,
      values: [
        updates.map((u) => u.personId),
        updates.map((u) => u.target),
        updates.map((u) => u.appliedVersion),
        updates.map((u) => u.desired.accountName),
        updates.map((u) => (u.desired.state === 'ABSENT' && u.appliedVersion !== null ? null : u.accountRef)),
        updates.map((u) => u.status),
        updates.map((u) => JSON.stringify(u.desired)),
        updates.map((u) => u.desired.version),
        updates.map((u) => u.error),
      ],
    };
  }

  /** Every desired state the connector knows for a target (reconciliation). */
  async desiredForTarget(sql: SqlClient, target: string): Promise<StoredDesired[]> {
    const r = await sql.query<{ desired: DesiredAccount; account_ref: string | null; desired_version: string }>(
      `SELECT desired, account_ref, desired_version FROM ${this.table} WHERE target = $1 AND desired IS NOT NULL`,
      [target],
    );
    return r.rows.map((row) => ({ desired: row.desired, accountRef: row.account_ref, desiredVersion: Number(row.desired_version) }));
  }

  async desiredOf(sql: SqlClient, personId: string, target: string): Promise<StoredDesired | undefined> {
    const r = await sql.query<{ desired: DesiredAccount; account_ref: string | null; desired_version: string }>(
      `SELECT desired, account_ref, desired_version FROM ${this.table} WHERE person_id = $1 AND target = $2 AND desired IS NOT NULL`,
      [personId, target],
    );
    const row = r.rows[0];
    return row ? { desired: row.desired, accountRef: row.account_ref, desiredVersion: Number(row.desired_version) } : undefined;
  }
}
