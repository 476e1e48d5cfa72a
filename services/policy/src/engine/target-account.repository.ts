import { quoteIdent, type SqlClient } from '@provisio/persistence';

export interface TargetAccountRow {
  person_id: string;
  target: string;
  version: string;
  desired_json: string;
}

/** Last desired state sent per person x target, and what the target reported back. */
export class TargetAccountRepository {
  private readonly table: string;

  constructor(schema: string) {
    this.table = `${quoteIdent(schema)}.target_accounts`;
  }

  async lock(sql: SqlClient, personId: string, target: string): Promise<TargetAccountRow | undefined> {
    const r = await sql.query<TargetAccountRow>(`SELECT person_id, target, version, desired_json FROM ${this.table} WHERE person_id = $1 AND target = $2 FOR UPDATE`, [
      personId,
      target,
    ]);
    return r.rows[0];
  }

  async save(sql: SqlClient, personId: string, target: string, targetKind: string, version: number, desiredJson: string): Promise<void> {
    await sql.query(
      `INSERT INTO ${this.table} (person_id, target, target_kind, version, desired, desired_json) VALUES ($1, $2, $3, $4, $5::jsonb, $5)
       ON CONFLICT (person_id, target) DO UPDATE SET version = EXCLUDED.version, desired = EXCLUDED.desired, desired_json = EXCLUDED.desired_json, updated_at = now()`,
      [personId, target, targetKind, version, desiredJson],
    );
  }

  async recordResult(sql: SqlClient, personId: string, target: string, version: number, status: string, error: string | null): Promise<void> {
    await sql.query(
      `UPDATE ${this.table} SET applied_version = GREATEST(COALESCE(applied_version, 0), CASE WHEN $4 IN ('APPLIED','NO_CHANGE') THEN $3::bigint ELSE 0 END),
         last_status = $4, last_error = $5, updated_at = now()
       WHERE person_id = $1 AND target = $2`,
      [personId, target, version, status, error],
    );
  }
}
