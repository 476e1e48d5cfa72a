import { quoteIdent } from '@provisio/persistence';

/** The kit's own tables, for a connector service's first migration. */
export function connectorTablesSql(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.applied_versions (
       person_id text NOT NULL,
       target text NOT NULL,
       version bigint NOT NULL,
       account_name text NOT NULL,
       account_ref text,
       status text NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (person_id, target)
     )`,
  ];
}
