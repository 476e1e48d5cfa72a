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

  /**
   * Locks (FOR UPDATE, in person_id order: no deadlocks between batches) and loads persons.
   * `desiredAttributes: false` leaves out the attributes of the last desired states (they are
   * loaded as {}): evaluation reads only their state, name and groups, and they are most of the bytes.
   */
  async load(sql: SqlClient, personIds: string[], o: { lock: boolean; desiredAttributes?: boolean }): Promise<Map<string, PersonState>> {
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
      `SELECT person_id, target, target_kind, version, ${o.desiredAttributes === false ? `desired || '{"attributes": {}}'::jsonb AS desired` : 'desired'},
         retained, lost_at, applied_version, last_status, last_error, policy_version FROM ${this.s}.target_accounts WHERE person_id = ANY($1::text[])`,
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

  /** Inserts or updates persons whose facts changed (lifecycle events): one statement. */
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

  /** Records an evaluation of stored persons whose facts did not change (re-evaluations, timed work): one statement. */
  async saveEvaluations(sql: SqlClient, rows: PersonWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await sql.query(
      `UPDATE ${this.s}.persons p SET held_roles = ARRAY(SELECT jsonb_array_elements_text(u.roles)), evaluated_version = u.version, next_evaluation_at = u.next_at, updated_at = now()
       FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::timestamptz[]) AS u(id, roles, version, next_at) WHERE p.person_id = u.id`,
      [rows.map((r) => r.record.personId), rows.map((r) => JSON.stringify(r.record.heldRoles)), rows.map((r) => r.evaluatedVersion), rows.map((r) => date(r.nextEvaluationAt))],
    );
  }

  /**
   * Upserts target states in one statement. The rows travel as one JSON document (desired states
   * are nested objects, serialized once) rather than as jsonb[] parameters, which pg would escape
   * element by element.
   */
  async saveTargets(sql: SqlClient, rows: TargetWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await sql.query(
      `INSERT INTO ${this.s}.target_accounts (person_id, target, target_kind, version, desired, retained, lost_at, policy_version, last_command_id)
       SELECT u.p, u.t, u.k, u.v, u.d, u.r, u.l, u.pv, u.c
       FROM json_to_recordset($1::json) AS u(p text, t text, k text, v bigint, d jsonb, r jsonb, l timestamptz, pv bigint, c text)
       ON CONFLICT (person_id, target) DO UPDATE SET target_kind = EXCLUDED.target_kind, version = EXCLUDED.version, desired = EXCLUDED.desired,
         retained = EXCLUDED.retained, lost_at = EXCLUDED.lost_at, policy_version = EXCLUDED.policy_version,
         last_command_id = COALESCE(EXCLUDED.last_command_id, ${this.s}.target_accounts.last_command_id), updated_at = now()`,
      [
        JSON.stringify(
          rows.map((r) => ({
            p: r.personId,
            t: r.target,
            k: r.targetKind,
            v: r.version,
            d: r.desired,
            r: r.retained,
            l: r.lostAt === null ? null : new Date(r.lostAt).toISOString(),
            pv: r.policyVersion,
            c: r.commandId,
          })),
        ),
      ],
    );
  }

  /** Upserts current SoD findings and deletes resolved ones, one statement each. */
  async saveViolations(sql: SqlClient, upserts: { personId: string; violation: Violation; policyVersion: number }[], deletes: { personId: string; ruleId: string }[]): Promise<void> {
    if (upserts.length > 0) {
      await sql.query(
        `INSERT INTO ${this.s}.sod_violations (person_id, rule_id, status, mode, conflicting, dropped, exception_id, policy_version)
         SELECT u.p, u.r, u.st, u.m, ARRAY(SELECT jsonb_array_elements_text(u.c)), ARRAY(SELECT jsonb_array_elements_text(u.d)), u.e, u.v
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[], $8::bigint[]) AS u(p, r, st, m, c, d, e, v)
         ON CONFLICT (person_id, rule_id) DO UPDATE SET status = EXCLUDED.status, mode = EXCLUDED.mode, conflicting = EXCLUDED.conflicting, dropped = EXCLUDED.dropped,
           exception_id = EXCLUDED.exception_id, policy_version = EXCLUDED.policy_version, updated_at = now()`,
        [
          upserts.map((u) => u.personId),
          upserts.map((u) => u.violation.ruleId),
          upserts.map((u) => u.violation.status),
          upserts.map((u) => u.violation.mode),
          upserts.map((u) => JSON.stringify(u.violation.conflicting)),
          upserts.map((u) => JSON.stringify(u.violation.dropped)),
          upserts.map((u) => u.violation.exceptionId),
          upserts.map((u) => u.policyVersion),
        ],
      );
    }
    if (deletes.length > 0) {
      await sql.query(
        `DELETE FROM ${this.s}.sod_violations v USING unnest($1::text[], $2::text[]) AS u(p, r) WHERE v.person_id = u.p AND v.rule_id = u.r`,
        [deletes.map((d) => d.personId), deletes.map((d) => d.ruleId)],
      );
    }
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
   * Allocates unique values for many persons at once, set-based. Per namespace and base the
   * candidates base, base2, base3, ... are considered in order: the ones not known to be taken are
   * probed in one query for the whole batch per round, each person (in id order, so a batch is
   * deterministic) gets the first free one, and all are inserted in one statement with ON
   * CONFLICT DO NOTHING. The unique index on (namespace, lower(value)) is the arbiter: a value
   * another transaction took meanwhile sends its person to the next round. Callers hold the
   * persons' row locks, so a person never gets two values in one namespace; once allocated a value
   * is kept (rehires get their old login back). Returns personId → namespace → value.
   */
  async allocateMany(sql: SqlClient, requests: (AllocationRequest & { personId: string })[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    const put = (personId: string, namespace: string, value: string) => {
      let r = out.get(personId);
      if (!r) out.set(personId, (r = {}));
      r[namespace] = value;
    };
    interface Candidate {
      value: string;
      lower: string;
    }
    interface Group {
      namespace: string;
      base: string;
      maxLength: number;
      reserved: ReadonlySet<string>;
      persons: string[];
      /** Last candidate number considered. */
      scanned: number;
      /** Probed this round, not known to be taken. */
      open: Candidate[];
      slack: number;
    }
    const groups = new Map<string, Group>();
    const seen = new Set<string>();
    for (const r of [...requests].sort((a, b) => (a.personId < b.personId ? -1 : a.personId > b.personId ? 1 : 0))) {
      if (seen.has(`${r.namespace}\u0000${r.personId}`)) continue;
      seen.add(`${r.namespace}\u0000${r.personId}`);
      const key = `${r.namespace}\u0000${r.base}\u0000${r.maxLength}\u0000${r.reserved.join('\u0000')}`;
      let g = groups.get(key);
      if (!g) {
        g = { namespace: r.namespace, base: r.base, maxLength: r.maxLength, reserved: new Set(r.reserved), persons: [], scanned: 0, open: [], slack: 2 };
        groups.set(key, g);
      }
      g.persons.push(r.personId);
    }
    const MAX_CANDIDATES = 100_000;
    while (groups.size > 0) {
      // 1. Per group, enough candidates not known to be taken; probe them all in one query.
      const probe: { ns: string; lower: string }[] = [];
      for (const g of groups.values()) {
        const known = this.knownTaken(g.namespace);
        g.open = g.open.filter((c) => !known.has(c.lower));
        while (g.open.length < g.persons.length + g.slack && g.scanned < MAX_CANDIDATES) {
          const value = uniqueCandidate(g.base, ++g.scanned, g.maxLength);
          const lower = value.toLowerCase();
          if (known.has(lower) || g.reserved.has(lower)) continue;
          g.open.push({ value, lower });
          probe.push({ ns: g.namespace, lower });
        }
        g.slack = Math.min(g.slack * 4, 4096);
      }
      if (probe.length > 0) {
        const r = await sql.query<{ namespace: string; v: string }>(
          // LATERAL ... LIMIT 1: one index probe per candidate (a plain join lets the planner hash the whole table).
          `SELECT c.ns AS namespace, c.v FROM unnest($1::text[], $2::text[]) AS c(ns, v)
           CROSS JOIN LATERAL (SELECT 1 FROM ${this.s}.allocations a WHERE a.namespace = c.ns AND lower(a.value) = c.v LIMIT 1) hit`,
          [probe.map((p) => p.ns), probe.map((p) => p.lower)],
        );
        for (const row of r.rows) this.rememberTaken(row.namespace, row.v);
      }
      // 2. The first free candidate per person, in order.
      const picks: { namespace: string; value: string; personId: string; key: string; group: Group }[] = [];
      for (const [key, g] of groups) {
        const known = this.knownTaken(g.namespace);
        const waiting: string[] = [];
        let i = 0;
        for (const personId of g.persons) {
          while (i < g.open.length && known.has(g.open[i]!.lower)) i++;
          const c = g.open[i];
          if (!c) {
            waiting.push(personId);
            continue;
          }
          i++;
          // Taken from now on for every allocation of this process (concurrent batches skip it).
          this.rememberTaken(g.namespace, c.lower);
          picks.push({ namespace: g.namespace, value: c.value, personId, key, group: g });
        }
        g.open = g.open.slice(i);
        if (waiting.length > 0 && g.scanned >= MAX_CANDIDATES) {
          throw Object.assign(new Error(`no free value in namespace ${g.namespace} for base of length ${g.base.length}`), { retriable: false });
        }
        g.persons = waiting;
        if (waiting.length === 0) groups.delete(key);
      }
      if (picks.length === 0) continue;
      // 3. Insert in (namespace, value) order, so concurrent allocators wait on each other in one order.
      picks.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      const inserted = await sql.query<{ namespace: string; person_id: string; value: string }>(
        `INSERT INTO ${this.s}.allocations (namespace, value, person_id)
         SELECT u.ns, u.v, u.p FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(ns, v, p, i) ORDER BY u.i
         ON CONFLICT DO NOTHING RETURNING namespace, person_id, value`,
        [picks.map((p) => p.namespace), picks.map((p) => p.value), picks.map((p) => p.personId)],
      );
      const ok = new Set(inserted.rows.map((x) => `${x.namespace}\u0000${x.person_id}`));
      for (const x of inserted.rows) put(x.person_id, x.namespace, x.value);
      const lost = picks.filter((p) => !ok.has(`${p.namespace}\u0000${p.personId}`));
      if (lost.length === 0) continue;
      // Another transaction (another replica) took the value, or, defensively, the person already has one: look, then retry.
      const existing = await sql.query<{ namespace: string; person_id: string; value: string }>(
        `SELECT u.ns AS namespace, u.p AS person_id, hit.value FROM unnest($1::text[], $2::text[]) AS u(ns, p)
         CROSS JOIN LATERAL (SELECT a.value FROM ${this.s}.allocations a WHERE a.namespace = u.ns AND a.person_id = u.p LIMIT 1) hit`,
        [lost.map((p) => p.namespace), lost.map((p) => p.personId)],
      );
      const has = new Set(existing.rows.map((x) => `${x.namespace}\u0000${x.person_id}`));
      for (const x of existing.rows) put(x.person_id, x.namespace, x.value);
      for (const p of lost) {
        if (has.has(`${p.namespace}\u0000${p.personId}`)) continue;
        p.group.persons.push(p.personId);
        p.group.persons.sort();
        groups.set(p.key, p.group);
      }
    }
    return out;
  }

  /**
   * Values this process knows to be taken, per namespace: found by probes or picked by one of its
   * allocations. Values are never released, so knowing one saves probing it again; a value
   * picked in a transaction that rolled back stays skipped (a gap, never a duplicate: the unique
   * index decides). Bounded: forgotten all at once when it grows large.
   */
  private readonly taken = new Map<string, Set<string>>();
  private takenCount = 0;

  private knownTaken(namespace: string): Set<string> {
    let set = this.taken.get(namespace);
    if (!set) this.taken.set(namespace, (set = new Set()));
    return set;
  }

  private rememberTaken(namespace: string, lower: string): void {
    if (this.takenCount >= 500_000) {
      this.taken.clear();
      this.takenCount = 0;
    }
    const set = this.knownTaken(namespace);
    if (!set.has(lower)) {
      set.add(lower);
      this.takenCount++;
    }
  }

  /**
   * Persons whose last evaluation used another policy version, locked, skipping busy ones. Two
   * index range scans (older versions first), so a batch costs the same at the end of a large
   * re-evaluation as at its start.
   */
  async lockStale(sql: SqlClient, activeVersion: number, limit: number): Promise<string[]> {
    const ids: string[] = [];
    for (const op of ['<', '>']) {
      if (ids.length >= limit) break;
      const r = await sql.query<{ person_id: string }>(
        `SELECT person_id FROM ${this.s}.persons WHERE evaluated_version ${op} $1 ORDER BY evaluated_version, person_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [activeVersion, limit - ids.length],
      );
      for (const x of r.rows) ids.push(x.person_id);
    }
    return ids;
  }

  async countStale(sql: SqlClient, activeVersion: number): Promise<number> {
    const r = await sql.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM ${this.s}.persons WHERE evaluated_version < $1) + (SELECT count(*) FROM ${this.s}.persons WHERE evaluated_version > $1) AS n`,
      [activeVersion],
    );
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

  /** Every value taken in a namespace, lower-cased (simulations allocate against these in memory). */
  async takenValues(sql: SqlClient, namespace: string): Promise<Set<string>> {
    const r = await sql.query<{ v: string }>(`SELECT lower(value) AS v FROM ${this.s}.allocations WHERE namespace = $1`, [namespace]);
    return new Set(r.rows.map((x) => x.v));
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
