import { EventTypes, Topics } from '@provisio/contracts';
import { OutboxWriter, uuidv7 } from '@provisio/messaging';
import { Database, quoteIdent, type SqlClient } from '@provisio/persistence';
import { loadPolicy, loadPolicyOrThrow, UTC, type CompiledPolicy, type LoadResult, type PolicyFile, type TimeZone } from '@provisio/policy-domain';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PolicyApiError } from './policy-api-error.js';

export interface PolicyVersionRow {
  version: number;
  name: string;
  contentHash: string;
  source: 'file' | 'api';
  comment: string | null;
  createdBy: string;
  createdAt: string;
  active: boolean;
}

export interface ActivationRow {
  id: number;
  version: number;
  kind: 'file' | 'activate' | 'rollback';
  activatedBy: string;
  reason: string | null;
  personsTotal: number;
  activatedAt: string;
  reevaluatedAt: string | null;
}

export function contentHash(files: PolicyFile[]): string {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

/** A policy file, or every *.yaml / *.yml file of a folder (sorted by name, not recursive). */
export async function readPolicyPath(path: string): Promise<PolicyFile[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [{ name: basename(path), content: await readFile(path, 'utf8') }];
  const names = (await readdir(path)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return Promise.all(names.map(async (n) => ({ name: n, content: await readFile(join(path, n), 'utf8') })));
}

/**
 * Policy versions in PostgreSQL: every accepted policy is a new numbered version, exactly one is
 * active (policy_state, read inside every person transaction so all replicas agree), and every
 * activation is recorded. Compiled versions are cached by number.
 */
export class PolicyStore {
  private readonly s: string;
  private readonly cache = new Map<number, CompiledPolicy>();

  constructor(
    private readonly db: Database,
    private readonly outbox: OutboxWriter,
    schema: string,
    /** Time zone every version is compiled with (POLICY_TIME_ZONE). */
    readonly timeZone: TimeZone = UTC,
  ) {
    this.s = quoteIdent(schema);
  }

  validate(files: PolicyFile[]): LoadResult {
    return loadPolicy(files, { timeZone: this.timeZone });
  }

  async activeVersion(sql: SqlClient): Promise<number | null> {
    const r = await sql.query<{ active_version: string | null }>(`SELECT active_version FROM ${this.s}.policy_state`);
    const v = r.rows[0]?.active_version;
    return v === null || v === undefined ? null : Number(v);
  }

  async compiled(sql: SqlClient, version: number): Promise<CompiledPolicy> {
    const hit = this.cache.get(version);
    if (hit) return hit;
    const r = await sql.query<{ files: PolicyFile[] }>(`SELECT files FROM ${this.s}.policy_versions WHERE version = $1`, [version]);
    if (!r.rows[0]) throw new PolicyApiError('VERSION_NOT_FOUND', `policy version ${version} does not exist`, 404);
    const { policy } = loadPolicyOrThrow(r.rows[0].files, { timeZone: this.timeZone });
    this.cache.set(version, policy);
    return policy;
  }

  /** The active version and its compiled policy (null before any policy was loaded). */
  async active(sql: SqlClient): Promise<{ version: number; policy: CompiledPolicy } | null> {
    const version = await this.activeVersion(sql);
    return version === null ? null : { version, policy: await this.compiled(sql, version) };
  }

  /**
   * Stores a validated policy as a new version (or returns the latest version when its content
   * is identical) in the caller's transaction.
   */
  async create(
    sql: SqlClient,
    files: PolicyFile[],
    o: { source: 'file' | 'api'; actor: string; comment?: string | undefined },
  ): Promise<{ version: number; created: boolean }> {
    const result = this.validate(files);
    if (!result.ok) throw new PolicyApiError('INVALID_POLICY', 'the policy is invalid', 422, result.problems);
    const hash = contentHash(files);
    await sql.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`provisio:policy-versions:${this.s}`]);
    const latest = await sql.query<{ version: string; content_hash: string }>(
      `SELECT version, content_hash FROM ${this.s}.policy_versions ORDER BY version DESC LIMIT 1`,
    );
    if (latest.rows[0]?.content_hash === hash) return { version: Number(latest.rows[0].version), created: false };
    const version = Number(latest.rows[0]?.version ?? 0) + 1;
    await sql.query(
      `INSERT INTO ${this.s}.policy_versions (version, name, files, content_hash, source, comment, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [version, result.policy.name, JSON.stringify(files), hash, o.source, o.comment ?? null, o.actor],
    );
    this.cache.set(version, result.policy);
    await this.change(sql, 'VERSION_CREATED', version, o.actor, o.comment ?? null, {
      name: result.policy.name,
      contentHash: hash,
      source: o.source,
      files: files.map((f) => f.name),
    });
    return { version, created: true };
  }

  /** Makes a version the active one; the re-evaluator then brings every person to it. */
  async activate(sql: SqlClient, version: number, o: { kind: ActivationRow['kind']; actor: string; reason?: string | undefined }): Promise<ActivationRow> {
    await this.compiled(sql, version);
    await sql.query(`SELECT 1 FROM ${this.s}.policy_state FOR UPDATE`);
    const total = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.s}.persons`);
    await sql.query(`UPDATE ${this.s}.policy_state SET active_version = $1`, [version]);
    const r = await sql.query<{ id: string; activated_at: Date }>(
      `INSERT INTO ${this.s}.policy_activations (version, kind, activated_by, reason, persons_total) VALUES ($1, $2, $3, $4, $5) RETURNING id, activated_at`,
      [version, o.kind, o.actor, o.reason ?? null, Number(total.rows[0]!.n)],
    );
    await this.change(sql, 'VERSION_ACTIVATED', version, o.actor, o.reason ?? null, { kind: o.kind });
    return {
      id: Number(r.rows[0]!.id),
      version,
      kind: o.kind,
      activatedBy: o.actor,
      reason: o.reason ?? null,
      personsTotal: Number(total.rows[0]!.n),
      activatedAt: r.rows[0]!.activated_at.toISOString(),
      reevaluatedAt: null,
    };
  }

  /**
   * Rolls back along the activation history: to the version that was active before the current
   * one's activation (v1 → v2 → v3, then rollback → v2, rollback → v1), or to `toVersion`, which
   * must be one of the versions active before the current one in that history. The history is a
   * stack: an activation pushes its version, a rollback pops down to the version it activated.
   */
  async rollback(sql: SqlClient, o: { actor: string; reason?: string | undefined; toVersion?: number | undefined }): Promise<ActivationRow> {
    await sql.query(`SELECT 1 FROM ${this.s}.policy_state FOR UPDATE`);
    const r = await sql.query<{ version: string; kind: ActivationRow['kind'] }>(`SELECT version, kind FROM ${this.s}.policy_activations ORDER BY id`);
    const stack = activationStack(r.rows.map((x) => ({ version: Number(x.version), kind: x.kind })));
    const earlier = stack.slice(0, -1);
    let target: number | undefined;
    if (o.toVersion === undefined) target = earlier.at(-1);
    else if (earlier.includes(o.toVersion)) target = o.toVersion;
    else {
      throw new PolicyApiError(
        'NOTHING_TO_ROLL_BACK',
        `version ${o.toVersion} was not active before the current version ${stack.at(-1) ?? 'none'}; earlier versions: ${earlier.length > 0 ? [...earlier].reverse().join(', ') : 'none'}`,
        409,
      );
    }
    if (target === undefined) throw new PolicyApiError('NOTHING_TO_ROLL_BACK', 'no earlier activated version to roll back to', 409);
    return this.activate(sql, target, { kind: 'rollback', actor: o.actor, reason: o.reason });
  }

  /**
   * Loads the policy file(s) at start. A file whose content changed since the last start becomes
   * a new active version; an unchanged file leaves whatever the API activated since. An invalid
   * file throws (the service refuses to start, naming each problem).
   */
  async loadAtStart(files: PolicyFile[]): Promise<{ version: number; changed: boolean }> {
    const result = this.validate(files);
    if (!result.ok) throw new PolicyApiError('INVALID_POLICY', `the policy file is invalid`, 422, result.problems);
    const hash = contentHash(files);
    return this.db.transaction(async (tx) => {
      await tx.sql.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`provisio:policy-file:${this.s}`]);
      const state = await tx.sql.query<{ active_version: string | null; file_hash: string | null }>(
        `SELECT active_version, file_hash FROM ${this.s}.policy_state FOR UPDATE`,
      );
      const row = state.rows[0]!;
      if (row.file_hash === hash && row.active_version !== null) return { version: Number(row.active_version), changed: false };
      const { version } = await this.create(tx.sql, files, { source: 'file', actor: 'system:policy-file', comment: 'loaded from POLICY_PATH at start' });
      await this.activate(tx.sql, version, { kind: 'file', actor: 'system:policy-file', reason: 'policy file changed' });
      await tx.sql.query(`UPDATE ${this.s}.policy_state SET file_hash = $1`, [hash]);
      return { version, changed: true };
    });
  }

  /**
   * Records the time zone the population is evaluated in. When it changed since the last start
   * (unset counts as UTC, the zone before the setting existed), everyone is marked for
   * re-evaluation: the re-evaluator brings them to the new zone's day boundaries. Returns how
   * many persons were marked.
   */
  async applyTimeZone(): Promise<{ previous: string | null; marked: number }> {
    return this.db.transaction(async (tx) => {
      const r = await tx.sql.query<{ time_zone: string | null }>(`SELECT time_zone FROM ${this.s}.policy_state FOR UPDATE`);
      const previous = r.rows[0]?.time_zone ?? null;
      if ((previous ?? 'UTC') === this.timeZone.name) {
        if (previous === null) await tx.sql.query(`UPDATE ${this.s}.policy_state SET time_zone = $1`, [this.timeZone.name]);
        return { previous, marked: 0 };
      }
      await tx.sql.query(`UPDATE ${this.s}.policy_state SET time_zone = $1`, [this.timeZone.name]);
      const marked = await tx.sql.query(`UPDATE ${this.s}.persons SET evaluated_version = 0 WHERE evaluated_version <> 0`);
      return { previous, marked: marked.rowCount ?? 0 };
    });
  }

  /** Remembers the file content as loaded, so the next start does not load it again. */
  async markFileLoaded(sql: SqlClient, files: PolicyFile[]): Promise<void> {
    await sql.query(`UPDATE ${this.s}.policy_state SET file_hash = $1`, [contentHash(files)]);
  }

  async list(sql: SqlClient): Promise<PolicyVersionRow[]> {
    const r = await sql.query<{
      version: string;
      name: string;
      content_hash: string;
      source: 'file' | 'api';
      comment: string | null;
      created_by: string;
      created_at: Date;
      active: boolean;
    }>(
      `SELECT v.version, v.name, v.content_hash, v.source, v.comment, v.created_by, v.created_at, (v.version = s.active_version) AS active
       FROM ${this.s}.policy_versions v CROSS JOIN ${this.s}.policy_state s ORDER BY v.version DESC`,
    );
    return r.rows.map((x) => ({
      version: Number(x.version),
      name: x.name,
      contentHash: x.content_hash,
      source: x.source,
      comment: x.comment,
      createdBy: x.created_by,
      createdAt: x.created_at.toISOString(),
      active: x.active === true,
    }));
  }

  async get(sql: SqlClient, version: number): Promise<(PolicyVersionRow & { files: PolicyFile[] }) | undefined> {
    const r = await sql.query<{ files: PolicyFile[] }>(`SELECT files FROM ${this.s}.policy_versions WHERE version = $1`, [version]);
    if (!r.rows[0]) return undefined;
    const row = (await this.list(sql)).find((v) => v.version === version)!;
    return { ...row, files: r.rows[0].files };
  }

  async activations(sql: SqlClient, limit = 50): Promise<ActivationRow[]> {
    const r = await sql.query<{
      id: string;
      version: string;
      kind: ActivationRow['kind'];
      activated_by: string;
      reason: string | null;
      persons_total: string;
      activated_at: Date;
      reevaluated_at: Date | null;
    }>(
      `SELECT id, version, kind, activated_by, reason, persons_total, activated_at, reevaluated_at FROM ${this.s}.policy_activations ORDER BY id DESC LIMIT $1`,
      [limit],
    );
    return r.rows.map((x) => ({
      id: Number(x.id),
      version: Number(x.version),
      kind: x.kind,
      activatedBy: x.activated_by,
      reason: x.reason,
      personsTotal: Number(x.persons_total),
      activatedAt: x.activated_at.toISOString(),
      reevaluatedAt: x.reevaluated_at?.toISOString() ?? null,
    }));
  }

  async markReevaluated(sql: SqlClient, version: number): Promise<void> {
    await sql.query(
      `UPDATE ${this.s}.policy_activations SET reevaluated_at = now() WHERE id = (SELECT max(id) FROM ${this.s}.policy_activations) AND version = $1 AND reevaluated_at IS NULL`,
      [version],
    );
  }

  /** Records an administrative change on policy.changes (audit reads it). */
  async change(
    sql: SqlClient,
    kind:
      | 'VERSION_CREATED'
      | 'VERSION_ACTIVATED'
      | 'ASSIGNMENT_GRANTED'
      | 'ASSIGNMENT_REVOKED'
      | 'ASSIGNMENT_EXPIRED'
      | 'EXCEPTION_GRANTED'
      | 'EXCEPTION_REVOKED'
      | 'EXCEPTION_EXPIRED',
    policyVersion: number | null,
    actor: string,
    reason: string | null,
    details: Record<string, unknown>,
    person?: { personId: string; subjectId: string },
  ): Promise<void> {
    const now = Date.now();
    const changeId = uuidv7(now);
    await this.outbox.enqueue(sql, [
      {
        id: changeId,
        topic: Topics.policyChanges,
        key: person?.personId ?? 'policy',
        aggregateType: person ? 'person' : 'policy',
        type: EventTypes.policyChange,
        schema: 'PolicyChange',
        value: {
          changeId,
          kind,
          personId: person?.personId ?? null,
          policyVersion,
          subjectId: person?.subjectId ?? null,
          actor,
          reason,
          detailsJson: JSON.stringify(details),
          occurredAt: now,
        },
      },
    ]);
  }
}

/**
 * The versions that can be rolled back to, oldest first, the active one last: every activation
 * pushes its version (re-activating the active version changes nothing), and a rollback pops down
 * to the version it activated.
 */
export function activationStack(history: { version: number; kind: ActivationRow['kind'] }[]): number[] {
  const stack: number[] = [];
  for (const a of history) {
    if (a.kind === 'rollback') {
      while (stack.length > 0 && stack.at(-1) !== a.version) stack.pop();
      if (stack.length === 0) stack.push(a.version);
    } else if (stack.at(-1) !== a.version) stack.push(a.version);
  }
  return stack;
}
