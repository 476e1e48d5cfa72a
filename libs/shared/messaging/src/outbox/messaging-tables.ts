import { quoteIdent } from '@provisio/persistence';

/**
 * DDL of the outbox and inbox tables, for a service's first migration. Columns follow the
 * usual outbox layout (id, aggregatetype, aggregateid, type, payload) plus the topic, the
 * CloudEvents/trace headers and the event id consumers deduplicate on.
 */
export function messagingTablesSql(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.outbox (
       id bigserial PRIMARY KEY,
       event_id uuid NOT NULL UNIQUE,
       aggregatetype text NOT NULL,
       aggregateid text NOT NULL,
       type text NOT NULL,
       topic text NOT NULL,
       payload bytea NOT NULL,
       headers jsonb NOT NULL DEFAULT '{}'::jsonb,
       created_at timestamptz NOT NULL DEFAULT clock_timestamp()
     )`,
    `CREATE TABLE IF NOT EXISTS ${s}.inbox (
       consumer text NOT NULL,
       event_id text NOT NULL,
       processed_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (consumer, event_id)
     )`,
    `CREATE INDEX IF NOT EXISTS inbox_processed_at_idx ON ${s}.inbox (processed_at)`,
  ];
}
