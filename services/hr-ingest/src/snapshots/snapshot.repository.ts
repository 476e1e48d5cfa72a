import type { BrakeVerdict, FieldError, WorkerRecord } from '@provisio/hr-ingest-domain';
import { quoteIdent, type SqlClient } from '@provisio/persistence';
import { randomUUID } from 'node:crypto';

export type SnapshotStatus = 'receiving' | 'staged' | 'held' | 'applying' | 'applied' | 'discarded' | 'superseded' | 'failed';

export interface Snapshot {
  id: string;
  source: string;
  mode: 'full' | 'delta';
  absentWorkers: 'leaver' | 'ignore';
  mappingName: string;
  fileName: string | null;
  asOf: number | null;
  status: SnapshotStatus;
  rowsTotal: number;
  rowsRejected: number;
  rowsWarned: number;
  population: number | null;
  leaversPlanned: number | null;
  brake: BrakeVerdict | null;
  planned: Record<string, number> | null;
  events: Record<string, number>;
  appliedThrough: number;
  absenteesDone: boolean;
  ignoredColumns: string[];
  attempts: number;
  error: string | null;
  receivedBy: string | null;
  decidedBy: string | null;
  createdAt: Date;
  stagedAt: Date | null;
  plannedAt: Date | null;
  finishedAt: Date | null;
}

export interface StagedRow {
  rowNo: number;
  line: number;
  workerId: string | null;
  /**
   * Rejected rows whose worker id is not certain: the ids the row may stand for (all count as
   * present in a full snapshot), or `[]` when no id can be read. Null: `workerId` is certain.
   */
  presentIds: string[] | null;
  record: WorkerRecord | null;
  rejection: FieldError[] | null;
}

interface SnapshotRow {
  id: string;
  source: string;
  mode: 'full' | 'delta';
  absent_workers: 'leaver' | 'ignore';
  mapping_name: string;
  file_name: string | null;
  as_of: string | null;
  status: SnapshotStatus;
  rows_total: number;
  rows_rejected: number;
  rows_warned: number;
  population: number | null;
  leavers_planned: number | null;
  brake: BrakeVerdict | null;
  planned: Record<string, number> | null;
  events: Record<string, number>;
  applied_through: number;
  absentees_done: boolean;
  ignored_columns: string[];
  attempts: number;
  error: string | null;
  received_by: string | null;
  decided_by: string | null;
  created_at: Date;
  staged_at: Date | null;
  planned_at: Date | null;
  finished_at: Date | null;
}

function toSnapshot(r: SnapshotRow): Snapshot {
  return {
    id: r.id,
    source: r.source,
    mode: r.mode,
    absentWorkers: r.absent_workers,
    mappingName: r.mapping_name,
    fileName: r.file_name,
    asOf: r.as_of === null ? null : Number(r.as_of),
    status: r.status,
    rowsTotal: r.rows_total,
    rowsRejected: r.rows_rejected,
    rowsWarned: r.rows_warned,
    population: r.population,
    leaversPlanned: r.leavers_planned,
    brake: r.brake,
    planned: r.planned,
    events: r.events,
    appliedThrough: r.applied_through,
    absenteesDone: r.absentees_done,
    ignoredColumns: r.ignored_columns,
    attempts: r.attempts,
    error: r.error,
    receivedBy: r.received_by,
    decidedBy: r.decided_by,
    createdAt: r.created_at,
    stagedAt: r.staged_at,
    plannedAt: r.planned_at,
    finishedAt: r.finished_at,
  };
}

/** Snapshots (CSV uploads), their staged rows, planned leavers and the mass-change hold. */
export class SnapshotRepository {
  readonly snapshots: string;
  readonly rows: string;
  readonly leavers: string;
  readonly mappings: string;
  readonly persons: string;
  readonly batches: string;

  /**
   * A person is in the file when a row (valid or rejected) names their worker id, or a row whose
   * id is not certain may be theirs (present_ids).
   */
  private get notInFile(): string {
    return `NOT EXISTS (SELECT 1 FROM ${this.rows} r WHERE r.snapshot_id = $1 AND r.worker_id = p.worker_id)
         AND NOT EXISTS (SELECT 1 FROM ${this.rows} r WHERE r.snapshot_id = $1 AND r.present_ids IS NOT NULL AND p.worker_id = ANY (r.present_ids))`;
  }

  constructor(schema: string) {
    const s = quoteIdent(schema);
    this.batches = `${s}.snapshot_batches`;
    this.snapshots = `${s}.snapshots`;
    this.rows = `${s}.snapshot_rows`;
    this.leavers = `${s}.snapshot_leavers`;
    this.mappings = `${s}.csv_mappings`;
    this.persons = `${s}.persons`;
  }

  async saveMapping(sql: SqlClient, source: string, name: string, yaml: string, by: string | undefined): Promise<void> {
    await sql.query(
      `INSERT INTO ${this.mappings} (source, name, yaml, updated_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (source, name) DO UPDATE SET yaml = EXCLUDED.yaml, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [source, name, yaml, by ?? null],
    );
  }

  async mapping(sql: SqlClient, source: string, name: string): Promise<{ yaml: string; updatedAt: Date } | undefined> {
    const r = await sql.query<{ yaml: string; updated_at: Date }>(`SELECT yaml, updated_at FROM ${this.mappings} WHERE source = $1 AND name = $2`, [source, name]);
    return r.rows[0] && { yaml: r.rows[0].yaml, updatedAt: r.rows[0].updated_at };
  }

  async create(sql: SqlClient, s: { id: string; source: string; mode: 'full' | 'delta'; absentWorkers: 'leaver' | 'ignore'; mappingName: string; fileName?: string | undefined; asOf?: number | undefined; receivedBy?: string | undefined }): Promise<void> {
    await sql.query(
      `INSERT INTO ${this.snapshots} (id, source, mode, absent_workers, mapping_name, file_name, as_of, status, received_by) VALUES ($1, $2, $3, $4, $5, $6, $7, 'receiving', $8)`,
      [s.id, s.source, s.mode, s.absentWorkers, s.mappingName, s.fileName ?? null, s.asOf ?? null, s.receivedBy ?? null],
    );
  }

  async get(sql: SqlClient, id: string): Promise<Snapshot | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const r = await sql.query<SnapshotRow>(`SELECT * FROM ${this.snapshots} WHERE id = $1`, [id]);
    return r.rows[0] && toSnapshot(r.rows[0]);
  }

  async list(sql: SqlClient, f: { source?: string | undefined; status?: string | undefined; limit: number }): Promise<Snapshot[]> {
    const r = await sql.query<SnapshotRow>(
      `SELECT * FROM ${this.snapshots} WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3`,
      [f.source ?? null, f.status ?? null, f.limit],
    );
    return r.rows.map(toSnapshot);
  }

  /** Stages rows; a valid row gets the personId its worker will have if it is new. */
  async stageRows(sql: SqlClient, snapshotId: string, rows: readonly StagedRow[]): Promise<void> {
    if (rows.length === 0) return;
    const doc = JSON.stringify(
      rows.map((r) => ({ row_no: r.rowNo, line: r.line, worker_id: r.workerId, present_ids: r.presentIds, record: r.record, rejection: r.rejection, person_id: r.record ? randomUUID() : null })),
    );
    await sql.query(
      `INSERT INTO ${this.rows} (snapshot_id, row_no, line, worker_id, present_ids, record, rejection, person_id)
       SELECT $1, row_no, line, worker_id, present_ids, record, rejection, person_id
       FROM jsonb_to_recordset($2::jsonb) AS x(row_no int, line int, worker_id text, present_ids text[], record text, rejection jsonb, person_id uuid)`,
      [snapshotId, doc],
    );
  }

  /**
   * Every row of a worker id that occurs more than once is rejected (the others stand). Rows
   * whose id is not certain (wrong cell count, unreadable id) are rejected already and make no
   * duplicate of another row.
   */
  async rejectDuplicates(sql: SqlClient, snapshotId: string): Promise<number> {
    const r = await sql.query(
      `WITH d AS (
         SELECT worker_id, count(*) AS n FROM ${this.rows} WHERE snapshot_id = $1 AND worker_id IS NOT NULL AND present_ids IS NULL GROUP BY worker_id HAVING count(*) > 1
       )
       UPDATE ${this.rows} r SET record = NULL, rejection = coalesce(r.rejection, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
         'field', 'workerId', 'value', r.worker_id, 'rule', 'unique-in-batch',
         'message', format('worker %s appears %s times in this file; every one of them is rejected, the other records are processed', r.worker_id, d.n)))
       FROM d WHERE r.snapshot_id = $1 AND r.worker_id = d.worker_id AND r.present_ids IS NULL`,
      [snapshotId],
    );
    return r.rowCount ?? 0;
  }

  async markStaged(sql: SqlClient, id: string, counts: { rowsTotal: number; ignoredColumns: string[]; terminating: number }): Promise<void> {
    await sql.query(
      `UPDATE ${this.snapshots} SET status = 'staged', rows_total = $2, ignored_columns = $3, rows_terminating = $4,
         rows_rejected = (SELECT count(*) FROM ${this.rows} WHERE snapshot_id = $1 AND rejection IS NOT NULL), staged_at = now()
       WHERE id = $1`,
      [id, counts.rowsTotal, JSON.stringify(counts.ignoredColumns), counts.terminating],
    );
  }

  async fail(sql: SqlClient, id: string, error: string): Promise<void> {
    await sql.query(`DELETE FROM ${this.rows} WHERE snapshot_id = $1`, [id]);
    await sql.query(`UPDATE ${this.snapshots} SET status = 'failed', error = $2, finished_at = now(), lease_owner = NULL, lease_until = NULL WHERE id = $1`, [id, error.slice(0, 2000)]);
  }

  /**
   * Claims the oldest snapshot that needs work, one per source at a time (per-source order),
   * with a lease another replica takes over when this one dies.
   */
  async claim(sql: SqlClient, owner: string, leaseSec: number): Promise<Snapshot | undefined> {
    const r = await sql.query<SnapshotRow>(
      `UPDATE ${this.snapshots} SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
       WHERE id = (
         SELECT s.id FROM ${this.snapshots} s
         WHERE s.status IN ('staged', 'applying') AND (s.lease_until IS NULL OR s.lease_until < now())
           AND NOT EXISTS (SELECT 1 FROM ${this.snapshots} o WHERE o.source = s.source AND o.status IN ('staged', 'applying') AND o.created_at < s.created_at)
         ORDER BY s.created_at LIMIT 1 FOR UPDATE SKIP LOCKED
       ) RETURNING *`,
      [owner, leaseSec],
    );
    return r.rows[0] && toSnapshot(r.rows[0]);
  }

  /** Extends the lease; false when another replica took the snapshot over. */
  async renew(sql: SqlClient, id: string, owner: string, leaseSec: number): Promise<boolean> {
    const r = await sql.query(`UPDATE ${this.snapshots} SET lease_until = now() + make_interval(secs => $3) WHERE id = $1 AND lease_owner = $2`, [id, owner, leaseSec]);
    return r.rowCount === 1;
  }

  async release(sql: SqlClient, id: string, owner: string): Promise<void> {
    await sql.query(`UPDATE ${this.snapshots} SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`, [id, owner]);
  }

  async update(sql: SqlClient, id: string, set: Record<string, unknown>): Promise<void> {
    const cols = Object.keys(set);
    if (cols.length === 0) return;
    const assignments = cols.map((c, i) => `${c} = $${i + 2}`).join(', ');
    await sql.query(`UPDATE ${this.snapshots} SET ${assignments} WHERE id = $1`, [id, ...cols.map((c) => set[c])]);
  }

  /** Valid rows after `afterRow`, in file order (keyset pagination). */
  async validRows(sql: SqlClient, id: string, afterRow: number, limit: number, plannedOnly = false): Promise<{ rowNo: number; record: WorkerRecord; personId: string }[]> {
    const r = await sql.query<{ row_no: number; record: string; person_id: string }>(
      `SELECT row_no, record, person_id FROM ${this.rows} WHERE snapshot_id = $1 AND row_no > $2 AND record IS NOT NULL ${plannedOnly ? 'AND planned_kind IS NOT NULL' : ''}
       ORDER BY row_no LIMIT $3`,
      [id, afterRow, limit],
    );
    return r.rows.map((x) => ({ rowNo: x.row_no, record: JSON.parse(x.record) as WorkerRecord, personId: x.person_id }));
  }

  /** personIds this snapshot assigned (or found) for these workers. */
  async stagedPersonIds(sql: SqlClient, id: string, workerIds: readonly string[]): Promise<Map<string, string>> {
    if (workerIds.length === 0) return new Map();
    const r = await sql.query<{ worker_id: string; person_id: string }>(
      `SELECT worker_id, person_id FROM ${this.rows} WHERE snapshot_id = $1 AND worker_id = ANY($2::text[]) AND person_id IS NOT NULL`,
      [id, [...new Set(workerIds)]],
    );
    return new Map(r.rows.map((x) => [x.worker_id, x.person_id]));
  }

  async setPlanned(sql: SqlClient, id: string, planned: readonly { rowNo: number; kind: string }[]): Promise<void> {
    if (planned.length === 0) return;
    await sql.query(`UPDATE ${this.rows} r SET planned_kind = u.kind FROM unnest($2::int[], $3::text[]) AS u(row_no, kind) WHERE r.snapshot_id = $1 AND r.row_no = u.row_no`, [
      id,
      planned.map((p) => p.rowNo),
      planned.map((p) => p.kind),
    ]);
  }

  async setIssues(sql: SqlClient, id: string, column: 'rejection' | 'warning', issues: readonly { rowNo: number; errors: FieldError[] }[]): Promise<void> {
    if (issues.length === 0) return;
    await sql.query(`UPDATE ${this.rows} r SET ${column} = u.issues FROM unnest($2::int[], $3::jsonb[]) AS u(row_no, issues) WHERE r.snapshot_id = $1 AND r.row_no = u.row_no`, [
      id,
      issues.map((i) => i.rowNo),
      issues.map((i) => JSON.stringify(i.errors)),
    ]);
  }

  async addLeavers(sql: SqlClient, id: string, leavers: readonly { personId: string; workerId: string; reason: string }[]): Promise<void> {
    if (leavers.length === 0) return;
    await sql.query(`INSERT INTO ${this.leavers} (snapshot_id, person_id, worker_id, reason) SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`, [
      id,
      leavers.map((l) => l.personId),
      leavers.map((l) => l.workerId),
      leavers.map((l) => l.reason),
    ]);
  }

  /**
   * People of the source who are not terminated and not in the file at all (valid or not), and
   * not seen by a record newer than the export (`asOf`): for them the file is out of date.
   */
  async addAbsentees(sql: SqlClient, id: string, source: string, asOf: number | null): Promise<number> {
    const r = await sql.query(
      `INSERT INTO ${this.leavers} (snapshot_id, person_id, worker_id, reason)
       SELECT $1, p.person_id, p.worker_id, 'absent-from-snapshot' FROM ${this.persons} p
       WHERE p.source = $2 AND p.phase <> 'terminated' AND ($3::bigint IS NULL OR p.source_ts IS NULL OR p.source_ts <= $3)
         AND ${this.notInFile}
       ON CONFLICT DO NOTHING`,
      [id, source, asOf],
    );
    return r.rowCount ?? 0;
  }

  /** Rejected rows whose worker id cannot be read: any absent person may be one of them. */
  async countUnidentified(sql: SqlClient, id: string): Promise<number> {
    const r = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.rows} WHERE snapshot_id = $1 AND present_ids = '{}'::text[]`, [id]);
    return Number(r.rows[0]?.n ?? 0);
  }

  async clearPlan(sql: SqlClient, id: string): Promise<void> {
    await sql.query(`DELETE FROM ${this.leavers} WHERE snapshot_id = $1`, [id]);
    await sql.query(`UPDATE ${this.rows} SET planned_kind = NULL WHERE snapshot_id = $1 AND planned_kind IS NOT NULL`, [id]);
  }

  /**
   * At most how many leavers the file can make: rows that say terminated or carry a termination
   * date, plus (full snapshots) people absent from the file. Cheap, in SQL; when even this bound
   * stays under the brake, no precise plan is needed.
   */
  async leaverBound(sql: SqlClient, id: string, source: string, countAbsent: boolean, asOf: number | null): Promise<number> {
    const r = await sql.query<{ n: number }>(`SELECT rows_terminating AS n FROM ${this.snapshots} WHERE id = $1`, [id]);
    let n = r.rows[0]?.n ?? 0;
    if (countAbsent) {
      const a = await sql.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${this.persons} p WHERE p.source = $2 AND p.phase <> 'terminated' AND ($3::bigint IS NULL OR p.source_ts IS NULL OR p.source_ts <= $3)
           AND ${this.notInFile}`,
        [id, source, asOf],
      );
      n += Number(a.rows[0]?.n ?? 0);
    }
    return n;
  }

  /** Records a batch's event counts, in the batch's transaction. */
  async addEvents(sql: SqlClient, id: string, counts: Record<string, number>): Promise<void> {
    if (Object.keys(counts).length === 0) return;
    await sql.query(`INSERT INTO ${this.batches} (snapshot_id, batch_id, events) VALUES ($1, gen_random_uuid(), $2)`, [id, JSON.stringify(counts)]);
  }

  /** Events emitted so far, by kind. */
  async eventCounts(sql: SqlClient, id: string): Promise<Record<string, number>> {
    const r = await sql.query<{ k: string; v: number }>(
      `SELECT e.key AS k, sum(e.value::int)::int AS v FROM ${this.batches} b, jsonb_each_text(b.events) e WHERE b.snapshot_id = $1 GROUP BY e.key ORDER BY e.key`,
      [id],
    );
    return Object.fromEntries(r.rows.map((x) => [x.k, x.v]));
  }

  async countLeavers(sql: SqlClient, id: string): Promise<number> {
    const r = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.leavers} WHERE snapshot_id = $1`, [id]);
    return Number(r.rows[0]?.n ?? 0);
  }

  async absentees(sql: SqlClient, id: string, afterPersonId: string, limit: number): Promise<string[]> {
    const r = await sql.query<{ person_id: string }>(
      `SELECT person_id FROM ${this.leavers} WHERE snapshot_id = $1 AND reason = 'absent-from-snapshot' AND person_id > $2 ORDER BY person_id LIMIT $3`,
      [id, afterPersonId, limit],
    );
    return r.rows.map((x) => x.person_id);
  }

  async leaverPage(sql: SqlClient, id: string, afterPersonId: string, limit: number) {
    const r = await sql.query<{ person_id: string; worker_id: string; reason: string; attributes: Record<string, unknown> | null; phase: string | null }>(
      `SELECT l.person_id, l.worker_id, l.reason, p.attributes, p.phase FROM ${this.leavers} l LEFT JOIN ${this.persons} p ON p.person_id = l.person_id
       WHERE l.snapshot_id = $1 AND l.person_id > $2 ORDER BY l.person_id LIMIT $3`,
      [id, afterPersonId, limit],
    );
    return r.rows;
  }

  async issuePage(sql: SqlClient, id: string, column: 'rejection' | 'warning', afterRow: number, limit: number) {
    const r = await sql.query<{ row_no: number; line: number; worker_id: string | null; issues: FieldError[] }>(
      `SELECT row_no, line, worker_id, ${column} AS issues FROM ${this.rows} WHERE snapshot_id = $1 AND ${column} IS NOT NULL AND row_no > $2 ORDER BY row_no LIMIT $3`,
      [id, afterRow, limit],
    );
    return r.rows;
  }

  async countIssues(sql: SqlClient, id: string): Promise<{ rejected: number; warnings: number }> {
    const r = await sql.query<{ rejected: string; warnings: string }>(
      `SELECT count(*) FILTER (WHERE rejection IS NOT NULL) AS rejected, count(*) FILTER (WHERE warning IS NOT NULL) AS warnings FROM ${this.rows} WHERE snapshot_id = $1`,
      [id],
    );
    return { rejected: Number(r.rows[0]?.rejected ?? 0), warnings: Number(r.rows[0]?.warnings ?? 0) };
  }

  /** Held snapshots of the source older than this one can no longer be confirmed. */
  async supersedeOlderHolds(sql: SqlClient, s: Snapshot): Promise<void> {
    await sql.query(`UPDATE ${this.snapshots} SET status = 'superseded', finished_at = now() WHERE source = $1 AND status = 'held' AND created_at < $2`, [s.source, s.createdAt]);
  }

  async prune(sql: SqlClient, retentionDays: number): Promise<number> {
    const r = await sql.query(
      `DELETE FROM ${this.rows} r USING ${this.snapshots} s WHERE r.snapshot_id = s.id AND s.finished_at < now() - make_interval(days => $1)`,
      [retentionDays],
    );
    return r.rowCount ?? 0;
  }
}
