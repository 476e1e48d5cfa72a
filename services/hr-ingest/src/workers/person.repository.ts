import type { HrAttributes } from '@provisio/contracts';
import type { PersonState } from '@provisio/hr-ingest-domain';
import { quoteIdent, type SqlClient } from '@provisio/persistence';

interface Row {
  person_id: string;
  source: string;
  worker_id: string;
  attributes: HrAttributes;
  version: string;
}

/** hr-ingest's person records. Reads lock the row: one writer per person at a time. */
export class PersonRepository {
  private readonly table: string;

  constructor(schema: string) {
    this.table = `${quoteIdent(schema)}.persons`;
  }

  async lockBySourceWorker(sql: SqlClient, source: string, workerId: string): Promise<PersonState | undefined> {
    const r = await sql.query<Row>(`SELECT * FROM ${this.table} WHERE source = $1 AND worker_id = $2 FOR UPDATE`, [source, workerId]);
    const row = r.rows[0];
    return row && { personId: row.person_id, source: row.source, workerId: row.worker_id, attributes: row.attributes, version: Number(row.version) };
  }

  /** Inserts a new person; false when another transaction created the same worker first. */
  async insert(sql: SqlClient, p: PersonState): Promise<boolean> {
    const r = await sql.query(
      `INSERT INTO ${this.table} (person_id, source, worker_id, attributes, version) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, worker_id) DO NOTHING`,
      [p.personId, p.source, p.workerId, JSON.stringify(p.attributes), p.version],
    );
    return r.rowCount === 1;
  }

  async update(sql: SqlClient, p: PersonState): Promise<void> {
    await sql.query(`UPDATE ${this.table} SET attributes = $2, version = $3, updated_at = now() WHERE person_id = $1`, [
      p.personId,
      JSON.stringify(p.attributes),
      p.version,
    ]);
  }

  async findById(sql: SqlClient, personId: string): Promise<PersonState | undefined> {
    const r = await sql.query<Row>(`SELECT * FROM ${this.table} WHERE person_id = $1`, [personId]);
    const row = r.rows[0];
    return row && { personId: row.person_id, source: row.source, workerId: row.worker_id, attributes: row.attributes, version: Number(row.version) };
  }
}
