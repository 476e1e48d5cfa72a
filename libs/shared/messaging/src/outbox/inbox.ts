import { quoteIdent, type SqlClient } from '@provisio/persistence';

/**
 * Processed-event ids, written in the same transaction as the effect of the event: a
 * redelivered event finds its id and changes nothing.
 */
export class Inbox {
  private readonly table: string;

  constructor(schema: string) {
    this.table = `${quoteIdent(schema)}.inbox`;
  }

  /** True when the event is new for this consumer (and is now recorded as processed). */
  async claim(sql: SqlClient, consumer: string, eventId: string): Promise<boolean> {
    const r = await sql.query(`INSERT INTO ${this.table} (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [consumer, eventId]);
    return r.rowCount === 1;
  }

  /** The subset of ids that are new for this consumer (now recorded as processed). */
  async claimMany(sql: SqlClient, consumer: string, eventIds: string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const r = await sql.query<{ event_id: string }>(
      `INSERT INTO ${this.table} (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`,
      [consumer, eventIds],
    );
    return new Set(r.rows.map((x) => x.event_id));
  }

  /** Forgets ids older than the retention (longer than the topics' retention). */
  async prune(sql: SqlClient, olderThanDays: number): Promise<number> {
    const r = await sql.query(`DELETE FROM ${this.table} WHERE processed_at < now() - make_interval(days => $1)`, [olderThanDays]);
    return r.rowCount ?? 0;
  }
}
