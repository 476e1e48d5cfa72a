import { createHash } from 'node:crypto';
import { canonicalJson, carryForward, type AppliedState, type CarriedSince } from '@provisio/audit-domain';
import { quoteIdent, type SqlClient } from '@provisio/persistence';

/**
 * Access that outlives retention. "Who has access now" is answered from the last command a
 * connector applied to each account; when retention drops the months holding that command, the
 * account would silently fall out of the answer. So, before dropping, retention writes each
 * account's last applied state (with since when it held) to `access_baseline`, and the commands
 * still waiting for their result to `carried_commands`, and signs a digest of both into its
 * anchor. Only the owner writes these tables; verification recomputes the digest.
 */

/** Where the sealed account name of a command lives, so it decrypts (or stays shredded) as in the record. */
interface SealedAccount {
  key_id: string | null;
  account: unknown;
  pii: Buffer | null;
  topic: string;
  kafka_partition: number;
  kafka_offset: string;
}

export interface AppliedStateRow extends SealedAccount {
  seq: string;
  person_id: string;
  target: string;
  result_id: string;
  applied_at: string;
  command_id: string;
  state: string;
  groups: string[] | null;
  version: string;
  active_since: string | null;
  group_since: Record<string, number> | null;
}

interface CarriedCommandRow extends SealedAccount {
  command_id: string;
  person_id: string | null;
  target: string | null;
  state: string;
  groups: string[];
  version: string;
}

export interface BaselineDigest {
  accounts: number;
  pendingCommands: number;
  /** Hex SHA-256 over the canonical rows of both tables. */
  digest: string;
}

const BATCH = 1000;

function jsonOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

export class AccessBaseline {
  private readonly records: string;
  private readonly baseline: string;
  private readonly carried: string;

  constructor(schema: string) {
    const s = quoteIdent(schema);
    this.records = `${s}.records`;
    this.baseline = `${s}.access_baseline`;
    this.carried = `${s}.carried_commands`;
  }

  /**
   * Applied states (results APPLIED or NO_CHANGE with the command they applied, found among the
   * records or the commands carried over a retention cut), plus the carried baseline: of one
   * target or all, applied until a time, from results up to a chain position.
   */
  async appliedStates(sql: SqlClient, o: { target?: string | undefined; appliedUntil?: number | undefined; maxSeq?: number | undefined }): Promise<AppliedStateRow[]> {
    const params: unknown[] = [o.target ?? null, o.appliedUntil ?? null, o.maxSeq ?? null];
    const fromRecords = await sql.query<AppliedStateRow>(
      `SELECT r.seq, r.person_id, r.target, r.entity_id AS result_id, r.payload_json->>'appliedAt' AS applied_at, c.command_id, c.state, c.groups, c.version,
              c.key_id, c.account, c.pii, c.topic, c.kafka_partition, c.kafka_offset, NULL AS active_since, NULL::jsonb AS group_since
       FROM ${this.records} r
       JOIN LATERAL (
         SELECT * FROM (
           SELECT c.seq AS rank, c.entity_id AS command_id, c.payload_json->>'state' AS state, ARRAY(SELECT jsonb_array_elements_text(c.payload_json->'groups')) AS groups,
                  c.payload_json->>'version' AS version, c.key_id, c.payload_json->'accountName' AS account, c.pii, c.topic, c.kafka_partition, c.kafka_offset
           FROM ${this.records} c WHERE c.entity_id = ANY(r.cause_ids) AND c.schema_name = 'ProvisioningCommand' AND c.dead_letter_of IS NULL
           UNION ALL
           SELECT 0 AS rank, k.command_id, k.state, k.groups, k.version::text, k.key_id, k.account, k.pii, k.topic, k.kafka_partition, k.kafka_offset
           FROM ${this.carried} k WHERE k.command_id = ANY(r.cause_ids)
         ) x ORDER BY rank LIMIT 1
       ) c ON true
       WHERE r.schema_name = 'ProvisioningResult' AND r.dead_letter_of IS NULL AND r.outcome IN ('APPLIED', 'NO_CHANGE')
         AND ($1::text IS NULL OR r.target = $1) AND ($2::bigint IS NULL OR (r.payload_json->>'appliedAt')::bigint <= $2) AND ($3::bigint IS NULL OR r.seq <= $3)`,
      params,
    );
    const carried = await sql.query<AppliedStateRow>(
      `SELECT result_seq AS seq, person_id, target, result_id, applied_at::text, command_id, state, groups, version::text,
              key_id, account, pii, topic, kafka_partition, kafka_offset::text, active_since::text, group_since
       FROM ${this.baseline} WHERE ($1::text IS NULL OR target = $1) AND ($2::bigint IS NULL OR applied_at <= $2)`,
      params.slice(0, 2),
    );
    return [...carried.rows, ...fromRecords.rows];
  }

  /**
   * Replaces the baseline with the state at `cut` (inclusive), as the owner inside retention's
   * transaction, before the partitions holding positions up to `cut` are dropped.
   */
  async carryTo(client: SqlClient, cut: number): Promise<BaselineDigest> {
    // Commands up to the cut that no result up to the cut answers (their result may still come),
    // read before the tables are emptied: the carried ones are among them.
    const pending = await client.query<CarriedCommandRow>(
      `WITH answered AS (SELECT DISTINCT unnest(cause_ids) AS id FROM ${this.records} WHERE seq <= $1 AND schema_name = 'ProvisioningResult')
       SELECT DISTINCT ON (p.command_id) p.* FROM (
         SELECT c.entity_id AS command_id, c.person_id, c.target, c.payload_json->>'state' AS state, ARRAY(SELECT jsonb_array_elements_text(c.payload_json->'groups')) AS groups,
                c.payload_json->>'version' AS version, c.key_id, c.payload_json->'accountName' AS account, c.pii, c.topic, c.kafka_partition, c.kafka_offset
         FROM ${this.records} c WHERE c.seq <= $1 AND c.schema_name = 'ProvisioningCommand' AND c.dead_letter_of IS NULL AND c.entity_id IS NOT NULL
         UNION ALL
         SELECT command_id, person_id, target, state, groups, version::text, key_id, account, pii, topic, kafka_partition, kafka_offset FROM ${this.carried}
       ) p WHERE NOT EXISTS (SELECT 1 FROM answered a WHERE a.id = p.command_id) ORDER BY p.command_id`,
      [cut],
    );
    const targets = await client.query<{ target: string }>(
      `SELECT target FROM ${this.baseline} UNION SELECT target FROM ${this.records} WHERE seq <= $1 AND schema_name = 'ProvisioningResult' AND target IS NOT NULL`,
      [cut],
    );
    const kept: { state: AppliedState & { carried: CarriedSince }; row: AppliedStateRow }[] = [];
    for (const { target } of targets.rows) {
      const byAccount = new Map<string, AppliedStateRow[]>();
      for (const row of await this.appliedStates(client, { target, maxSeq: cut })) {
        const history = byAccount.get(row.person_id);
        if (history) history.push(row);
        else byAccount.set(row.person_id, [row]);
      }
      for (const history of byAccount.values()) {
        const state = carryForward(history.map(appliedStateOf));
        kept.push({ state, row: history.find((h) => h.result_id === state.resultId)! });
      }
    }
    await client.query(`DELETE FROM ${this.baseline}`);
    await client.query(`DELETE FROM ${this.carried}`);
    for (let i = 0; i < kept.length; i += BATCH) {
      const batch = kept.slice(i, i + BATCH);
      const col = <T>(f: (k: (typeof kept)[number]) => T): T[] => batch.map(f);
      await client.query(
        `INSERT INTO ${this.baseline} (anchor_seq, person_id, target, state, groups, applied_at, version, command_id, result_id, result_seq, active_since, group_since,
                                       key_id, account, pii, topic, kafka_partition, kafka_offset)
         SELECT $1, person_id, target, state, ARRAY(SELECT jsonb_array_elements_text(groups)), applied_at, version, command_id, result_id, result_seq, active_since, group_since,
                key_id, account, pii, topic, kafka_partition, kafka_offset
         FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::jsonb[],
                     $13::uuid[], $14::jsonb[], $15::bytea[], $16::text[], $17::int[], $18::bigint[])
           AS t(person_id, target, state, groups, applied_at, version, command_id, result_id, result_seq, active_since, group_since, key_id, account, pii, topic, kafka_partition, kafka_offset)`,
        [cut, col((k) => k.state.personId), col((k) => k.state.target), col((k) => k.state.state), col((k) => JSON.stringify(k.state.groups)), col((k) => k.state.appliedAt),
          col((k) => k.state.version), col((k) => k.state.commandId), col((k) => k.state.resultId), col((k) => k.state.resultSeq), col((k) => k.state.carried.activeSince),
          col((k) => JSON.stringify(k.state.carried.groupSince)), col((k) => k.row.key_id), col((k) => jsonOrNull(k.row.account)), col((k) => k.row.pii), col((k) => k.row.topic),
          col((k) => k.row.kafka_partition), col((k) => k.row.kafka_offset)],
      );
    }
    for (let i = 0; i < pending.rows.length; i += BATCH) {
      const batch = pending.rows.slice(i, i + BATCH);
      const col = <T>(f: (k: CarriedCommandRow) => T): T[] => batch.map(f);
      await client.query(
        `INSERT INTO ${this.carried} (command_id, anchor_seq, person_id, target, state, groups, version, key_id, account, pii, topic, kafka_partition, kafka_offset)
         SELECT command_id, $1, person_id, target, state, ARRAY(SELECT jsonb_array_elements_text(groups)), version, key_id, account, pii, topic, kafka_partition, kafka_offset
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[], $8::uuid[], $9::jsonb[], $10::bytea[], $11::text[], $12::int[], $13::bigint[])
           AS t(command_id, person_id, target, state, groups, version, key_id, account, pii, topic, kafka_partition, kafka_offset)`,
        [cut, col((k) => k.command_id), col((k) => k.person_id), col((k) => k.target), col((k) => k.state), col((k) => JSON.stringify(k.groups)), col((k) => k.version),
          col((k) => k.key_id), col((k) => jsonOrNull(k.account)), col((k) => k.pii), col((k) => k.topic), col((k) => k.kafka_partition), col((k) => k.kafka_offset)],
      );
    }
    return this.digest(client);
  }

  /** The digest retention signs into its anchor, recomputed from the tables as they are now. */
  async digest(sql: SqlClient): Promise<BaselineDigest> {
    const h = createHash('sha256');
    const accounts = await sql.query<Record<string, unknown>>(
      `SELECT anchor_seq::text, person_id, target, state, groups, applied_at::text, version::text, command_id, result_id, result_seq::text, active_since::text, group_since,
              key_id::text, account, encode(pii, 'base64') AS pii, topic, kafka_partition, kafka_offset::text
       FROM ${this.baseline} ORDER BY target, person_id`,
    );
    for (const row of accounts.rows) h.update(`a ${canonicalJson(row)}\n`);
    const pending = await sql.query<Record<string, unknown>>(
      `SELECT command_id, anchor_seq::text, person_id, target, state, groups, version::text, key_id::text, account, encode(pii, 'base64') AS pii, topic, kafka_partition, kafka_offset::text
       FROM ${this.carried} ORDER BY command_id`,
    );
    for (const row of pending.rows) h.update(`c ${canonicalJson(row)}\n`);
    return { accounts: accounts.rows.length, pendingCommands: pending.rows.length, digest: h.digest('hex') };
  }
}

export function appliedStateOf(x: AppliedStateRow): AppliedState {
  return {
    personId: x.person_id,
    target: x.target,
    state: x.state,
    groups: x.groups ?? [],
    appliedAt: Number(x.applied_at),
    version: Number(x.version),
    commandId: x.command_id,
    resultId: x.result_id,
    resultSeq: Number(x.seq),
    carried: x.group_since === null ? undefined : { activeSince: x.active_since === null ? null : Number(x.active_since), groupSince: x.group_since },
  };
}
