import { migrationSchema, quoteIdent } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Repairs what source times in the future did before they were refused (rule not-in-future):
 * each stamp later than `$1` (epoch ms) loses its time — the attribute counts as unordered, as
 * values stored before attribute stamps did — so the next correct change is accepted again.
 * A stamp left without time and sequence is dropped. Snapshots waiting to be applied with an
 * asOf later than `$1` are failed (each of their rows carries that stamp). Idempotent.
 */
export function futureSourceTimeRepairSql(schema: string): string[] {
  const s = quoteIdent(schema);
  const future = (json: string) => `coalesce((${json})::bigint > $1, false)`;
  return [
    `UPDATE ${s}.persons p SET
       source_ts = CASE WHEN p.source_ts > $1 THEN NULL ELSE p.source_ts END,
       stamps = coalesce((
         SELECT jsonb_object_agg(e.k, CASE WHEN ${future("e.v->>'ts'")} THEN jsonb_set(e.v, '{ts}', 'null'::jsonb) ELSE e.v END)
         FROM jsonb_each(p.stamps) AS e(k, v)
         WHERE NOT (${future("e.v->>'ts'")} AND e.v->>'seq' IS NULL)
       ), '{}'::jsonb),
       removal = CASE
         WHEN NOT ${future("p.removal->'stamp'->>'ts'")} THEN p.removal
         WHEN p.removal->'stamp'->>'seq' IS NULL THEN jsonb_set(p.removal, '{stamp}', 'null'::jsonb)
         ELSE jsonb_set(p.removal, '{stamp,ts}', 'null'::jsonb)
       END,
       updated_at = now()
     WHERE p.source_ts > $1 OR ${future("p.removal->'stamp'->>'ts'")}
        OR EXISTS (SELECT 1 FROM jsonb_each(p.stamps) AS e(k, v) WHERE ${future("e.v->>'ts'")})`,
    `UPDATE ${s}.snapshots SET status = 'failed', error = 'asOf lies in the future (rule not-in-future); upload the file again with its real export time',
       finished_at = now(), lease_owner = NULL, lease_until = NULL
     WHERE status IN ('receiving', 'staged', 'held', 'applying') AND as_of > $1`,
  ];
}

export class FutureSourceTimes1768000000000 implements MigrationInterface {
  name = 'FutureSourceTimes1768000000000';

  async up(q: QueryRunner): Promise<void> {
    // The default HR_MAX_CLOCK_SKEW (5 minutes) ahead of the database's clock.
    const [row] = (await q.query(`SELECT (extract(epoch FROM now() + interval '5 minutes') * 1000)::bigint AS lim`)) as { lim: string }[];
    for (const sql of futureSourceTimeRepairSql(migrationSchema(q))) await q.query(sql, [row!.lim]);
  }

  async down(): Promise<void> {
    // The times removed were wrong; nothing to restore.
  }
}
