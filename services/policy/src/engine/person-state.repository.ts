import { quoteIdent, type SqlClient } from '@provisio/persistence';
import type { DesiredAccount, ManualGrant, PersonRecord, SodExceptionGrant, TargetMemory, Violation } from '@provisio/policy-domain';
import { uniqueCandidate, type AllocationRequest } from '@provisio/policy-domain';
import type { HrAttributes } from '@provisio/contracts';

/** Everything the engine needs about one person, loaded in bulk. */
export interface PersonState {
  record: PersonRecord;
  evaluatedVersion: number;
  nextEvaluationAt: number | null;
  targets: Record<
    string,
    TargetMemory & { targetKind: string; appliedVersion: number | null; lastStatus: string | null; lastError: string | null; policyVersion: number | null }
  >;
  allocations: Record<string, string>;
  manual: ManualGrant[];
  exceptions: SodExceptionGrant[];
  violations: Map<string, Violation>;
  /** False until the person row exists in the database. */
  stored: boolean;
}

interface PersonRow {
  person_id: string;
  attributes: HrAttributes;
  start_at: Date | null;
  terminated_at: Date | null;
  last_kind: PersonRecord['lastKind'];
  last_recorded_at: Date | null;
  held_roles: string[];
  evaluated_version: string;
  next_evaluation_at: Date | null;
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());
const date = (n: number | null) => (n === null ? null : new Date(n));

export interface PersonWrite {
  record: PersonRecord;
  evaluatedVersion: number;
  nextEvaluationAt: number | null;
}

export interface TargetWrite {
  personId: string;
  target: string;
  targetKind: string;
  version: number;
  desired: DesiredAccount;
  retained: Record<string, number>;
  lostAt: number | null;
  policyVersion: number;
  commandId: string | null;
}

/** The policy engine's per-person tables, read and written in bulk. */
export class PersonStateRepository {
  private readonly s: string;

  constructor(schema: string) {
    this.s = quoteIdent(schema);
  }

  /** Locks (FOR UPDATE, in person_id order: no deadlocks between batches) and loads persons. */
  async load(sql: SqlClient, personIds: string[], o: { lock: boolean }): Promise<Map<string, PersonState>> {
    const ids = [...new Set(personIds)].sort();
    const out = new Map<string, PersonState>();
    if (ids.length === 0) return out;
    const persons = await sql.query<PersonRow>(
      `SELECT person_id, attributes, start_at, terminated_at, last_kind, last_recorded_at, held_roles, evaluated_version, next_evaluation_at
       FROM ${this.s}.persons WHERE person_id = ANY($1::text[]) ORDER BY person_id ${o.lock ? 'FOR UPDATE' : ''}`,
      [ids],
    );
    for (const p of persons.rows) {
      out.set(p.person_id, {
        record: {
          personId: p.person_id,
          attributes: p.attributes,
          startAt: ms(p.start_at),
          terminatedAt: ms(p.terminated_at),
          lastKind: p.last_kind,
          lastRecordedAt: ms(p.last_recorded_at),
          heldRoles: p.held_roles,
        },
        evaluatedVersion: Number(p.evaluated_version),
        nextEvaluationAt: ms(p.next_evaluation_at),
        targets: {},
        allocations: {},
        manual: [],
        exceptions: [],
        violations: new Map(),
        stored: true,
      });
    }
    const found = [...out.keys()];
    if (found.length === 0) return out;
    // One client (a transaction): queries run one after the other.
    const targets = await sql.query<{
      person_id: string;
      target: string;
      target_kind: string;
      version: string;
      desired: DesiredAccount;
      retained: Record<string, number>;
      lost_at: Date | null;
      applied_version: string | null;
      last_status: string | null;
      last_error: string | null;
      policy_version: string | null;
    }>(
      `SELECT person_id, target, target_kind, version, desired, retained, lost_at, applied_version, last_status, last_error, policy_version FROM ${this.s}.target_accounts WHERE person_id = ANY($1::text[])`,
      [found],
    );
    const allocations = await sql.query<{ person_id: string; namespace: string; value: string }>(
      `SELECT person_id, namespace, value FROM ${this.s}.allocations WHERE person_id = ANY($1::text[])`,
      [found],
    );
    const manual = await sql.query<{
      id: string;
      person_id: string;
      role: string | null;
      target: string | null;
      group_name: string | null;
      expires_at: Date | null;
    }>(
      `SELECT id, person_id, role, target, group_name, expires_at FROM ${this.s}.manual_assignments WHERE person_id = ANY($1::text[]) AND status = 'active' ORDER BY created_at, id`,
      [found],
    );
    const exceptions = await sql.query<{ id: string; person_id: string; rule_id: string; expires_at: Date }>(
      `SELECT id, person_id, rule_id, expires_at FROM ${this.s}.sod_exceptions WHERE person_id = ANY($1::text[]) AND status = 'active' ORDER BY created_at, id`,
      [found],
    );
    const violations = await sql.query<{
      person_id: string;
      rule_id: string;
      status: Violation['status'];
      mode: Violation['mode'];
      conflicting: string[];
      dropped: string[];
      exception_id: string | null;
    }>(`SELECT person_id, rule_id, status, mode, conflicting, dropped, exception_id FROM ${this.s}.sod_violations WHERE person_id = ANY($1::text[])`, [found]);
    for (const t of targets.rows) {
      out.get(t.person_id)!.targets[t.target] = {
        version: Number(t.version),
        desired: t.desired,
        retained: t.retained,
        lostAt: ms(t.lost_at),
        targetKind: t.target_kind,
        appliedVersion: t.applied_version === null ? null : Number(t.applied_version),
        lastStatus: t.last_status,
        lastError: t.last_error,
        policyVersion: t.policy_version === null ? null : Number(t.policy_version),
      };
    }
    for (const a of allocations.rows) out.get(a.person_id)!.allocations[a.namespace] = a.value;
    for (const m of manual.rows)
      out.get(m.person_id)!.manual.push({ id: m.id, role: m.role, target: m.target, group: m.group_name, expiresAt: ms(m.expires_at) });
    for (const e of exceptions.rows) out.get(e.person_id)!.exceptions.push({ id: e.id, ruleId: e.rule_id, expiresAt: e.expires_at.getTime() });
    for (const v of violations.rows) {
      out.get(v.person_id)!.violations.set(v.rule_id, {
        ruleId: v.rule_id,
        mode: v.mode,
        status: v.status,
        conflicting: v.conflicting,
        dropped: v.dropped,
        exceptionId: v.exception_id,
      });
    }
    return out;
  }

  async savePersons(sql: SqlClient, rows: PersonWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await sql.query(
      `INSERT INTO ${this.s}.persons (person_id, attributes, start_at, terminated_at, last_kind, last_recorded_at, held_roles, evaluated_version, next_evaluation_at)
       SELECT u.id, u.attrs, u.start_at, u.terminated_at, u.last_kind, u.last_recorded_at, ARRAY(SELECT jsonb_array_elements_text(u.roles)), u.version, u.next_at
       FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::timestamptz[], $7::jsonb[], $8::bigint[], $9::timestamptz[])
         AS u(id, attrs, start_at, terminated_at, last_kind, last_recorded_at, roles, version, next_at)
       ON CONFLICT (person_id) DO UPDATE SET attributes = EXCLUDED.attributes, start_at = EXCLUDED.start_at, terminated_at = EXCLUDED.terminated_at,
         last_kind = EXCLUDED.last_kind, last_recorded_at = EXCLUDED.last_recorded_at, held_roles = EXCLUDED.held_roles,
         evaluated_version = EXCLUDED.evaluated_version, next_evaluation_at = EXCLUDED.next_evaluation_at, updated_at = now()`,
      [
        rows.map((r) => r.record.personId),
        rows.map((r) => JSON.stringify(r.record.attributes)),
        rows.map((r) => date(r.record.startAt)),
        rows.map((r) => date(r.record.terminatedAt)),
        rows.map((r) => r.record.lastKind),
        rows.map((r) => date(r.record.lastRecordedAt)),
        rows.map((r) => JSON.stringify(r.record.heldRoles)),
        rows.map((r) => r.evaluatedVersion),
        rows.map((r) => date(r.nextEvaluationAt)),
      ],
    );
  }

  async saveTargets(sql: SqlClient, rows: TargetWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await sql.query(
      `INSERT INTO ${this.s}.target_accounts (person_id, target, target_kind, version, desired, desired_json, retained, lost_at, policy_version, last_command_id)
       SELECT u.p, u.t, u.k, u.v, u.d::jsonb, u.d, u.r, u.l, u.pv, u.c
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::bigint[], $9::text[]) AS u(p, t, k, v, d, r, l, pv, c)
       ON CONFLICT (person_id, target) DO UPDATE SET target_kind = EXCLUDED.target_kind, version = EXCLUDED.version, desired = EXCLUDED.desired,
         desired_json = EXCLUDED.desired_json, retained = EXCLUDED.retained, lost_at = EXCLUDED.lost_at, policy_version = EXCLUDED.policy_version,
         last_command_id = COALESCE(EXCLUDED.last_command_id, ${this.s}.target_accounts.last_command_id), updated_at = now()`,
      [
        rows.map((r) => r.personId),
        rows.map((r) => r.target),
        rows.map((r) => r.targetKind),
        rows.map((r) => r.version),
        rows.map((r) => JSON.stringify(r.desired)),
        rows.map((r) => JSON.stringify(r.retained)),
        rows.map((r) => date(r.lostAt)),
        rows.map((r) => r.policyVersion),
        rows.map((r) => r.commandId),
      ],
    );
  }

  async saveViolation(sql: SqlClient, personId: string, v: Violation, policyVersion: number): Promise<void> {
    await sql.query(
      `INSERT INTO ${this.s}.sod_violations (person_id, rule_id, status, mode, conflicting, dropped, exception_id, policy_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (person_id, rule_id) DO UPDATE SET status = EXCLUDED.status, mode = EXCLUDED.mode, conflicting = EXCLUDED.conflicting, dropped = EXCLUDED.dropped,
         exception_id = EXCLUDED.exception_id, policy_version = EXCLUDED.policy_version, updated_at = now()`,
      [personId, v.ruleId, v.status, v.mode, v.conflicting, v.dropped, v.exceptionId, policyVersion],
    );
  }

  async deleteViolation(sql: SqlClient, personId: string, ruleId: string): Promise<void> {
    await sql.query(`DELETE FROM ${this.s}.sod_violations WHERE person_id = $1 AND rule_id = $2`, [personId, ruleId]);
  }

  async endAssignments(
    sql: SqlClient,
    ids: string[],
    status: 'expired' | 'revoked',
    by: string,
    reason: string,
  ): Promise<{ id: string; person_id: string; role: string | null; target: string | null; group_name: string | null }[]> {
    if (ids.length === 0) return [];
    const r = await sql.query<{ id: string; person_id: string; role: string | null; target: string | null; group_name: string | null }>(
      `UPDATE ${this.s}.manual_assignments SET status = $2, ended_by = $3, ended_reason = $4, ended_at = now() WHERE id = ANY($1::uuid[]) AND status = 'active'
       RETURNING id, person_id, role, target, group_name`,
      [ids, status, by, reason],
    );
    return r.rows;
  }

  async expireExceptions(sql: SqlClient, personId: string, now: number): Promise<{ id: string; rule_id: string }[]> {
    const r = await sql.query<{ id: string; rule_id: string }>(
      `UPDATE ${this.s}.sod_exceptions SET status = 'expired', ended_by = 'system:scheduler', ended_reason = 'expired', ended_at = now()
       WHERE person_id = $1 AND status = 'active' AND expires_at <= $2 RETURNING id, rule_id`,
      [personId, new Date(now)],
    );
    return r.rows;
  }

  /**
   * Allocates a unique value in a namespace: the first free candidate of base, base2, base3, ...
   * A person keeps the value once allocated (rehires get their old login back).
   */
  async allocate(sql: SqlClient, personId: string, req: AllocationRequest): Promise<string> {
    const existing = await sql.query<{ value: string }>(`SELECT value FROM ${this.s}.allocations WHERE namespace = $1 AND person_id = $2`, [
      req.namespace,
      personId,
    ]);
    if (existing.rows[0]) return existing.rows[0].value;
    const reserved = new Set(req.reserved);
    for (let n = 1; n < 100_000; n += 50) {
      const candidates = Array.from({ length: 50 }, (_, i) => uniqueCandidate(req.base, n + i, req.maxLength)).filter((c) => !reserved.has(c.toLowerCase()));
      const taken = await sql.query<{ v: string }>(
        `SELECT lower(value) AS v FROM ${this.s}.allocations WHERE namespace = $1 AND lower(value) = ANY($2::text[])`,
        [req.namespace, candidates.map((c) => c.toLowerCase())],
      );
      const takenSet = new Set(taken.rows.map((r) => r.v));
      for (const c of candidates) {
        if (takenSet.has(c.toLowerCase())) continue;
        const r = await sql.query(`INSERT INTO ${this.s}.allocations (namespace, value, person_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
          req.namespace,
          c,
          personId,
        ]);
        if (r.rowCount === 1) return c;
      }
    }
    throw Object.assign(new Error(`no free value for ${req.namespace} from base of length ${req.base.length}`), { retriable: false });
  }

  /** Persons whose last evaluation used another policy version (locked, skipping busy ones). */
  async lockStale(sql: SqlClient, activeVersion: number, limit: number): Promise<string[]> {
    const r = await sql.query<{ person_id: string }>(
      `SELECT person_id FROM ${this.s}.persons WHERE evaluated_version < $1 OR evaluated_version > $1 ORDER BY person_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [activeVersion, limit],
    );
    return r.rows.map((x) => x.person_id);
  }

  async countStale(sql: SqlClient, activeVersion: number): Promise<number> {
    const r = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.s}.persons WHERE evaluated_version < $1 OR evaluated_version > $1`, [
      activeVersion,
    ]);
    return Number(r.rows[0]!.n);
  }

  async count(sql: SqlClient): Promise<number> {
    const r = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.s}.persons`);
    return Number(r.rows[0]!.n);
  }

  /** Person ids in order after `after` (keyset pages for simulations). */
  async page(sql: SqlClient, after: string, limit: number): Promise<string[]> {
    const r = await sql.query<{ person_id: string }>(`SELECT person_id FROM ${this.s}.persons WHERE person_id > $1 ORDER BY person_id LIMIT $2`, [
      after,
      limit,
    ]);
    return r.rows.map((x) => x.person_id);
  }

  async allAllocations(sql: SqlClient): Promise<Map<string, Set<string>>> {
    const r = await sql.query<{ namespace: string; v: string }>(`SELECT namespace, lower(value) AS v FROM ${this.s}.allocations`);
    const out = new Map<string, Set<string>>();
    for (const row of r.rows) {
      let set = out.get(row.namespace);
      if (!set) out.set(row.namespace, (set = new Set()));
      set.add(row.v);
    }
    return out;
  }

  async recordResults(
    sql: SqlClient,
    rows: { personId: string; target: string; version: number; status: string; error: string | null; at: number }[],
  ): Promise<void> {
    if (rows.length === 0) return;
    await sql.query(
      `UPDATE ${this.s}.target_accounts t SET
         applied_version = GREATEST(COALESCE(t.applied_version, 0), CASE WHEN u.status IN ('APPLIED', 'NO_CHANGE') THEN u.version ELSE 0 END),
         last_status = u.status, last_error = u.error, last_result_at = u.at, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[]) AS u(p, tg, version, status, error, at)
       WHERE t.person_id = u.p AND t.target = u.tg AND (t.last_result_at IS NULL OR t.last_result_at <= u.at)`,
      [
        rows.map((r) => r.personId),
        rows.map((r) => r.target),
        rows.map((r) => r.version),
        rows.map((r) => r.status),
        rows.map((r) => r.error),
        rows.map((r) => new Date(r.at)),
      ],
    );
  }
}
