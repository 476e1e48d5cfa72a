import type { HrAttributes } from '@provisio/contracts';
import type { PersonState, Phase, Removal, Stamp } from '@provisio/hr-ingest-domain';
import { quoteIdent, type SqlClient } from '@provisio/persistence';

/** A person as stored, with bookkeeping the domain does not need. */
export interface StoredPerson extends PersonState {
  nextTransitionAt: number | null;
  /** recordedAt of the person's last event: the next one is later, whatever the replica's clock. */
  lastEventAt: number | null;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  person_id: string;
  source: string;
  worker_id: string;
  attributes: HrAttributes;
  version: string;
  manager_worker_id: string | null;
  phase: Phase;
  start_kind: PersonState['startKind'];
  joined: boolean;
  removal: Removal | null;
  source_ts: string | null;
  source_seq: string | null;
  stamps: Record<string, Stamp> | null;
  next_transition_at: Date | null;
  last_event_at: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'person_id, source, worker_id, attributes, version, manager_worker_id, phase, start_kind, joined, removal, source_ts, source_seq, stamps, next_transition_at, last_event_at, created_at, updated_at';

function toPerson(r: Row): StoredPerson {
  return {
    personId: r.person_id,
    source: r.source,
    workerId: r.worker_id,
    attributes: { ...r.attributes, custom: r.attributes.custom ?? {} },
    version: Number(r.version),
    managerWorkerId: r.manager_worker_id,
    phase: r.phase,
    startKind: r.start_kind,
    joined: r.joined,
    removal: r.removal,
    sourceTimestamp: r.source_ts === null ? null : Number(r.source_ts),
    sequence: r.source_seq === null ? null : Number(r.source_seq),
    stamps: r.stamps ?? {},
    nextTransitionAt: r.next_transition_at ? r.next_transition_at.getTime() : null,
    lastEventAt: r.last_event_at === null ? null : Number(r.last_event_at),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface PersonWrite {
  state: PersonState;
  nextTransitionAt: number | null;
  lastEventAt: number | null;
}

/**
 * hr-ingest's person records. Reads that precede a write lock the rows (in worker-id order, so
 * concurrent batches never deadlock): one writer per person at a time, which also keeps each
 * person's outbox rows in commit order.
 */
export class PersonRepository {
  readonly table: string;

  constructor(schema: string) {
    this.table = `${quoteIdent(schema)}.persons`;
  }

  async lockByWorkerIds(sql: SqlClient, source: string, workerIds: readonly string[], lock = true): Promise<Map<string, StoredPerson>> {
    if (workerIds.length === 0) return new Map();
    const r = await sql.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE source = $1 AND worker_id = ANY($2::text[]) ORDER BY worker_id ${lock ? 'FOR UPDATE' : ''}`,
      [source, [...new Set(workerIds)]],
    );
    return new Map(r.rows.map((row) => [row.worker_id, toPerson(row)]));
  }

  async lockByIds(sql: SqlClient, personIds: readonly string[]): Promise<StoredPerson[]> {
    if (personIds.length === 0) return [];
    const r = await sql.query<Row>(`SELECT ${COLUMNS} FROM ${this.table} WHERE person_id = ANY($1::uuid[]) ORDER BY worker_id FOR UPDATE`, [[...personIds]]);
    return r.rows.map(toPerson);
  }

  /** personIds of workers of a source (no lock): manager references. */
  async personIdsOf(sql: SqlClient, source: string, workerIds: readonly string[]): Promise<Map<string, string>> {
    if (workerIds.length === 0) return new Map();
    const r = await sql.query<{ worker_id: string; person_id: string }>(`SELECT worker_id, person_id FROM ${this.table} WHERE source = $1 AND worker_id = ANY($2::text[])`, [
      source,
      [...new Set(workerIds)],
    ]);
    return new Map(r.rows.map((x) => [x.worker_id, x.person_id]));
  }

  async lockById(sql: SqlClient, personId: string): Promise<StoredPerson | undefined> {
    const r = await sql.query<Row>(`SELECT ${COLUMNS} FROM ${this.table} WHERE person_id = $1 FOR UPDATE`, [personId]);
    return r.rows[0] && toPerson(r.rows[0]);
  }

  async findById(sql: SqlClient, personId: string): Promise<StoredPerson | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(personId)) return undefined;
    const r = await sql.query<Row>(`SELECT ${COLUMNS} FROM ${this.table} WHERE person_id = $1`, [personId]);
    return r.rows[0] && toPerson(r.rows[0]);
  }

  /** Persons of the source matching a condition on alias p, in creation order (SCIM lists). */
  async page(sql: SqlClient, where: string, params: unknown[], offset: number, limit: number): Promise<StoredPerson[]> {
    const r = await sql.query<Row>(`SELECT ${COLUMNS.replace(/(\w+)/g, 'p.$1')} FROM ${this.table} p WHERE ${where} ORDER BY p.created_at, p.person_id OFFSET ${offset} LIMIT ${limit}`, params);
    return r.rows.map(toPerson);
  }

  async findByWorker(sql: SqlClient, source: string, workerId: string): Promise<StoredPerson | undefined> {
    const r = await sql.query<Row>(`SELECT ${COLUMNS} FROM ${this.table} WHERE source = $1 AND worker_id = $2`, [source, workerId]);
    return r.rows[0] && toPerson(r.rows[0]);
  }

  /** People waiting for one of these managers (reference kept, not resolved), locked. */
  async lockWaitingFor(sql: SqlClient, source: string, managerWorkerIds: readonly string[], exceptWorkerIds: readonly string[]): Promise<StoredPerson[]> {
    if (managerWorkerIds.length === 0) return [];
    const r = await sql.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.table}
       WHERE source = $1 AND manager_worker_id = ANY($2::text[]) AND attributes->>'managerPersonId' IS NULL AND NOT (worker_id = ANY($3::text[]))
       ORDER BY worker_id FOR UPDATE`,
      [source, [...new Set(managerWorkerIds)], [...exceptWorkerIds]],
    );
    return r.rows.map(toPerson);
  }

  async countAll(sql: SqlClient, source: string): Promise<number> {
    const r = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table} WHERE source = $1`, [source]);
    return Number(r.rows[0]?.n ?? 0);
  }

  /** People of the source who are not terminated: the population the mass-change brake measures. */
  async countPopulation(sql: SqlClient, source: string): Promise<number> {
    const r = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table} WHERE source = $1 AND phase <> 'terminated'`, [source]);
    return Number(r.rows[0]?.n ?? 0);
  }

  /** New persons; false when another transaction created one of the same workers first. */
  async insertMany(sql: SqlClient, writes: readonly PersonWrite[]): Promise<boolean> {
    if (writes.length === 0) return true;
    // One JSON document per batch: PostgreSQL parses it natively, no per-element array escaping.
    const r = await sql.query(
      `INSERT INTO ${this.table} (person_id, source, worker_id, attributes, version, manager_worker_id, phase, start_kind, joined, removal, source_ts, source_seq, stamps, next_transition_at, last_event_at)
       SELECT person_id, source, worker_id, attributes, version, manager_worker_id, phase, start_kind, joined, removal, source_ts, source_seq, stamps, next_at, last_event_at
       FROM jsonb_to_recordset($1::jsonb) AS x(person_id uuid, source text, worker_id text, attributes jsonb, version bigint, manager_worker_id text, phase text,
         start_kind text, joined boolean, removal jsonb, source_ts bigint, source_seq bigint, stamps jsonb, next_at timestamptz, last_event_at bigint)
       ON CONFLICT (source, worker_id) DO NOTHING`,
      [toJson(writes)],
    );
    return r.rowCount === writes.length;
  }

  async updateMany(sql: SqlClient, writes: readonly PersonWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await sql.query(
      `UPDATE ${this.table} p SET attributes = u.attributes, version = u.version, manager_worker_id = u.manager_worker_id, phase = u.phase,
         start_kind = u.start_kind, joined = u.joined, removal = u.removal, source_ts = u.source_ts, source_seq = u.source_seq,
         stamps = u.stamps, next_transition_at = u.next_at, last_event_at = coalesce(u.last_event_at, p.last_event_at), updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS u(person_id uuid, attributes jsonb, version bigint, manager_worker_id text, phase text, start_kind text, joined boolean,
         removal jsonb, source_ts bigint, source_seq bigint, stamps jsonb, next_at timestamptz, last_event_at bigint)
       WHERE p.person_id = u.person_id`,
      [toJson(writes)],
    );
  }
}

function toJson(writes: readonly PersonWrite[]): string {
  return JSON.stringify(
    writes.map(({ state: s, nextTransitionAt, lastEventAt }) => ({
      person_id: s.personId,
      source: s.source,
      worker_id: s.workerId,
      attributes: s.attributes,
      version: s.version,
      manager_worker_id: s.managerWorkerId,
      phase: s.phase,
      start_kind: s.startKind,
      joined: s.joined,
      removal: s.removal,
      source_ts: s.sourceTimestamp,
      source_seq: s.sequence,
      stamps: s.stamps,
      next_at: nextTransitionAt === null ? null : new Date(nextTransitionAt).toISOString(),
      last_event_at: lastEventAt,
    })),
  );
}
