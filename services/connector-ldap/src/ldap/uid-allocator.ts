import { Database, quoteIdent } from '@provisio/persistence';

/**
 * Allocates posix uid numbers per target from a counter in the connector's own database (safe
 * across replicas), skipping numbers the directory already uses.
 */
export class UidNumberAllocator {
  private readonly table: string;

  constructor(
    private readonly db: Database,
    schema: string,
    private readonly target: string,
    private readonly range: { min: number; max: number },
  ) {
    this.table = `${quoteIdent(schema)}.ldap_uid_numbers`;
  }

  async allocate(isTaken: (n: number) => Promise<boolean>): Promise<number> {
    for (let tries = 0; tries < 10_000; tries++) {
      const r = await this.db.sql.query<{ n: string }>(
        `INSERT INTO ${this.table} AS t (target, next_number) VALUES ($1, $2 + 1)
         ON CONFLICT (target) DO UPDATE SET next_number = CASE WHEN t.next_number > $3 THEN $2 + 1 ELSE t.next_number + 1 END
         RETURNING next_number - 1 AS n`,
        [this.target, this.range.min, this.range.max],
      );
      const n = Number(r.rows[0]!.n);
      if (n > this.range.max) continue;
      if (!(await isTaken(n))) return n;
    }
    throw new Error(`no free uid number in ${this.range.min}-${this.range.max} for target ${this.target}`);
  }
}
