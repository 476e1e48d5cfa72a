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

/**
 * Second step of the kit's tables: the desired state of the newest command per person × target
 * (what reconciliation compares the target with), the last error, and reconciliation runs.
 */
export function connectorTablesV2Sql(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `ALTER TABLE ${s}.applied_versions
       ADD COLUMN IF NOT EXISTS desired jsonb,
       ADD COLUMN IF NOT EXISTS desired_version bigint,
       ADD COLUMN IF NOT EXISTS last_error text`,
    `CREATE INDEX IF NOT EXISTS applied_versions_target ON ${s}.applied_versions (target)`,
    `CREATE TABLE IF NOT EXISTS ${s}.reconciliation_runs (
       run_id uuid PRIMARY KEY,
       target text NOT NULL,
       mode text NOT NULL,
       trigger text NOT NULL,
       status text NOT NULL,
       requested_by text,
       summary jsonb,
       error text,
       started_at timestamptz NOT NULL DEFAULT now(),
       finished_at timestamptz
     )`,
    `CREATE INDEX IF NOT EXISTS reconciliation_runs_target ON ${s}.reconciliation_runs (target, started_at DESC)`,
  ];
}

export function connectorTablesV2DownSql(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `DROP TABLE IF EXISTS ${s}.reconciliation_runs`,
    `DROP INDEX IF EXISTS ${s}.applied_versions_target`,
    `ALTER TABLE ${s}.applied_versions DROP COLUMN IF EXISTS desired, DROP COLUMN IF EXISTS desired_version, DROP COLUMN IF EXISTS last_error`,
  ];
}

/**
 * Third step: commands parked while their target is quarantined. A row keeps the consumed record
 * as it came (bytes, key, headers, where it was read) so it can be applied — or dead-lettered —
 * later, on any replica, after a restart. Rows of one person × target are applied in id order.
 */
export function connectorTablesV3Sql(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.parked_commands (
       id bigserial PRIMARY KEY,
       target text NOT NULL,
       person_id text NOT NULL,
       version bigint NOT NULL,
       command_id text NOT NULL,
       record_topic text NOT NULL,
       record_partition integer NOT NULL,
       record_offset text NOT NULL,
       record_key text,
       record_value bytea NOT NULL,
       record_headers jsonb NOT NULL,
       record_timestamp bigint NOT NULL,
       consumer_group text NOT NULL,
       parked_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE INDEX IF NOT EXISTS parked_commands_target ON ${s}.parked_commands (target, id)`,
    `CREATE INDEX IF NOT EXISTS parked_commands_person ON ${s}.parked_commands (person_id, target, id)`,
  ];
}

export function connectorTablesV3DownSql(schema: string): string[] {
  return [`DROP TABLE IF EXISTS ${quoteIdent(schema)}.parked_commands`];
}
