import {
  ConnectorError,
  ConnectorErrorCode,
  redactValues,
  type AccountLocator,
  type AccountPatch,
  type Attributes,
  type DesiredAccount,
  type AttributeValue,
  type Page,
  type PlanOptions,
  type TargetAccount,
  type TargetConnector,
  type TargetGroup,
} from '@provisio/connector-kit';
import pg from 'pg';
import type { PostgresTargetConfig } from '../config.js';
import { CreateBatcher } from './create-batcher.js';
import { fromPostgresError } from './postgres-errors.js';

/** Role attributes a command may manage on this target. */
export const ROLE_ATTRIBUTES = ['connectionLimit', 'validUntil'] as const;

/** A safely quoted identifier: the only special character inside double quotes is the double quote. */
export function quoteRole(name: string): string {
  if (name.length === 0) throw new ConnectorError(ConnectorErrorCode.Rejected, 'role name must not be empty');
  if (name.includes('\u0000')) throw new ConnectorError(ConnectorErrorCode.Rejected, 'role name must not contain NUL');
  // PostgreSQL would silently truncate longer names, and the account would never match again.
  if (Buffer.byteLength(name, 'utf8') > 63) throw new ConnectorError(ConnectorErrorCode.Rejected, `role name is ${Buffer.byteLength(name, 'utf8')} bytes; PostgreSQL allows at most 63`);
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The one representation of a role's VALID UNTIL that reads, commands and comparisons use: an ISO
 * 8601 string in UTC with milliseconds (`Date.toISOString()`), or null for "no expiry" — which
 * PostgreSQL stores as NULL or as 'infinity' (node-pg reads the latter as the number Infinity).
 * A value that is no timestamp is returned unchanged (and refused when written).
 */
export function canonicalValidUntil(value: AttributeValue | Date | undefined): AttributeValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === 'number') {
    if (value === Infinity) return null;
    if (value === -Infinity) return '-infinity';
    return new Date(value).toISOString();
  }
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'infinity' || v === '+infinity' || v === '') return null;
    if (v === '-infinity') return '-infinity';
    const t = Date.parse(value);
    return Number.isNaN(t) ? value : new Date(t).toISOString();
  }
  return value;
}

/** How long one pg_terminate_backend waits for the backend to exit, and how often the sessions are swept after the commit. */
const TERMINATE_WAIT_MS = 2_000;
const TERMINATE_ROUNDS = 3;

/** Terminates the sessions of a role (a quoted identifier), waiting for each backend to exit; fails with 42501 without pg_signal_backend. */
function terminateStatement(role: string): string {
  return `SELECT pg_terminate_backend(pid, ${TERMINATE_WAIT_MS}) FROM pg_stat_activity WHERE usesysid = ${quoteLiteral(role)}::regrole AND pid <> pg_backend_pid()`;
}

/** A string literal (standard_conforming_strings is forced on for the target pool). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new ConnectorError(ConnectorErrorCode.Rejected, 'value must not contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

interface RoleRow {
  oid: string;
  rolname: string;
  rolcanlogin: boolean;
  rolconnlimit: number;
  /** node-pg gives 'infinity' / '-infinity' as the numbers Infinity / -Infinity. */
  rolvaliduntil: Date | number | null;
  comment: string | null;
  groups: string[] | null;
  /** Only read when sessions matter: a NOLOGIN role with sessions still open (other than ours). */
  sessions?: boolean;
}

// The marker comment by a join on pg_shdescription: shobj_description() is a SQL function planned
// on every call, which cost PostgreSQL more than the CREATE ROLE it follows.
const ROLE_COLUMNS = `r.oid::text AS oid, r.rolname, r.rolcanlogin, r.rolconnlimit, r.rolvaliduntil,
  d.description AS comment,
  ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY g.rolname) AS groups`;
const ROLES = `pg_roles r LEFT JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass`;
// Whether a NOLOGIN role still has sessions: an uncorrelated sub-select, so pg_stat_activity is read
// once per query (and not at all when every role read can log in).
const SESSIONS_COLUMN = `CASE WHEN r.rolcanlogin THEN false ELSE r.oid = ANY (SELECT a.usesysid FROM pg_stat_activity a WHERE a.usesysid IS NOT NULL AND a.pid <> pg_backend_pid()) END AS sessions`;

/**
 * PostgreSQL login roles as accounts. Every role it creates carries a COMMENT marker naming the
 * person; roles without the marker (or with another person's) are never changed. Identifiers
 * and literals are always quoted. Multi-statement changes run in one transaction, so a role is
 * never left created but unmarked.
 */
export class PostgresRoleConnector implements TargetConnector {
  readonly pool: pg.Pool;
  /** The columns a read (for a command or the listing) selects: with the open-sessions check when disabling terminates sessions. */
  private readonly readColumns: string;
  /** Creates of concurrent commands, committed together (see CreateBatcher). */
  private readonly creates: CreateBatcher;

  constructor(
    private readonly config: PostgresTargetConfig,
    pool?: pg.Pool,
  ) {
    this.pool =
      pool ??
      new pg.Pool({
        connectionString: config.url,
        max: config.concurrency,
        application_name: 'provisio-connector-postgres',
        options: '-c standard_conforming_strings=on',
        // A connection that died silently (no FIN, no RST) fails its query instead of hanging for the kernel's minutes.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        query_timeout: config.callTimeoutMs + 5_000,
        connectionTimeoutMillis: Math.min(10_000, config.callTimeoutMs),
      });
    this.pool.on('error', () => undefined);
    this.readColumns = config.disable.terminateSessions ? `${ROLE_COLUMNS}, ${SESSIONS_COLUMN}` : ROLE_COLUMNS;
    this.creates = new CreateBatcher((sql) => this.pool.query(sql) as unknown as Promise<pg.QueryResult | pg.QueryResult[]>, {
      ...config.createBatch,
      // A shared transaction never waits on a lock for more than a quarter of a call.
      lockTimeoutMs: Math.max(1, Math.min(config.createBatch.lockTimeoutMs, Math.floor(config.callTimeoutMs / 4))),
      statementTimeoutMs: config.callTimeoutMs,
    });
  }

  /** How the kit compares this target: validUntil in its canonical form on both sides. */
  planOptions(): Partial<PlanOptions> {
    return { adoptUnowned: false, normalizeAttribute: (name, value) => (name === 'validUntil' ? canonicalValidUntil(value) : value) };
  }

  private marker(personId: string): string {
    return `${this.config.markerPrefix}${personId}`;
  }

  private ownerOf(comment: string | null): string | null {
    return comment?.startsWith(this.config.markerPrefix) ? comment.slice(this.config.markerPrefix.length) : null;
  }

  /**
   * A role as an account. A NOLOGIN role whose sessions are still open (read only while
   * `disable.terminateSessions` is on: a termination that failed after the NOLOGIN, or a role set
   * NOLOGIN by hand) is disabled with `openSessions`: the disable is not done until they are
   * ended, so a leaver's command (or reconciliation) disables again instead of finding no change,
   * and a rehire's still enables it. Reads for commands and the reconciliation listing use this
   * one mapping.
   */
  private toAccount(r: RoleRow): TargetAccount {
    return {
      ref: r.oid,
      name: r.rolname,
      owner: this.ownerOf(r.comment),
      enabled: r.rolcanlogin,
      ...(r.sessions === true && !r.rolcanlogin ? { openSessions: true } : {}),
      attributes: { connectionLimit: r.rolconnlimit < 0 ? null : r.rolconnlimit, validUntil: canonicalValidUntil(r.rolvaliduntil) },
      groups: r.groups ?? [],
    };
  }

  private async query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (e) {
      throw fromPostgresError(e, what);
    }
  }

  /**
   * Several statements atomically, in one round trip: a multi-statement simple query runs as one
   * implicit transaction (every identifier and literal in them is quoted by us, no parameters).
   */
  private async transaction(what: string, statements: string[]): Promise<pg.QueryResult[]> {
    try {
      const r = (await this.pool.query(statements.join(';\n'))) as unknown as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(r) ? r : [r];
    } catch (e) {
      throw fromPostgresError(e, what);
    }
  }

  async ping(): Promise<void> {
    await this.query('ping', 'SELECT 1');
  }

  async readAccount(l: AccountLocator): Promise<TargetAccount | null> {
    if (l.accountRef && /^\d+$/.test(l.accountRef)) {
      const byRef = await this.query<RoleRow>('read role', `SELECT ${this.readColumns} FROM ${ROLES} WHERE r.oid = $1::oid`, [l.accountRef]);
      const row = byRef.rows[0];
      // The oid only counts while it is still this person's role (oids are reused after DROP ROLE).
      if (row && this.ownerOf(row.comment) === l.personId) return this.toAccount(row);
    }
    // Then by the ownership marker (a role renamed since, or whose ref was never recorded), then by name.
    const byMarker = await this.query<RoleRow>('read role', `SELECT ${this.readColumns} FROM ${ROLES} WHERE d.description = $1 ORDER BY r.oid LIMIT 1`, [this.marker(l.personId)]);
    if (byMarker.rows[0]) return this.toAccount(byMarker.rows[0]);
    const byName = await this.query<RoleRow>('read role', `SELECT ${this.readColumns} FROM ${ROLES} WHERE r.rolname = $1`, [l.accountName]);
    return byName.rows[0] ? this.toAccount(byName.rows[0]) : null;
  }

  /** One query for a batch: by oid where known (still this person's), else by ownership marker, else by name. */
  async readAccounts(locators: AccountLocator[]): Promise<Map<string, TargetAccount | null>> {
    const names = locators.map((l) => l.accountName);
    const refs = locators.filter((l) => l.accountRef && /^\d+$/.test(l.accountRef)).map((l) => l.accountRef!);
    const markers = locators.map((l) => this.marker(l.personId));
    const r = await this.query<RoleRow>(
      'read roles',
      `SELECT ${this.readColumns} FROM ${ROLES} WHERE r.rolname = ANY($1::text[]) OR r.oid = ANY($2::oid[]) OR d.description = ANY($3::text[]) ORDER BY r.oid`,
      [names, refs, markers],
    );
    const byName = new Map(r.rows.map((row) => [row.rolname, row]));
    const byOid = new Map(r.rows.map((row) => [row.oid, row]));
    const byOwner = new Map<string, RoleRow>();
    for (const row of r.rows) {
      const owner = this.ownerOf(row.comment);
      if (owner !== null && !byOwner.has(owner)) byOwner.set(owner, row);
    }
    const out = new Map<string, TargetAccount | null>();
    for (const l of locators) {
      const viaRef = l.accountRef ? byOid.get(l.accountRef) : undefined;
      const row = (viaRef && this.ownerOf(viaRef.comment) === l.personId ? viaRef : undefined) ?? byOwner.get(l.personId) ?? byName.get(l.accountName);
      out.set(l.personId, row ? this.toAccount(row) : null);
    }
    return out;
  }

  private optionClauses(attributes: Attributes): string[] {
    const out: string[] = [];
    for (const [name, value] of Object.entries(attributes)) {
      if (name === 'connectionLimit') {
        if (value === null) out.push('CONNECTION LIMIT -1');
        else if (typeof value === 'number' && Number.isInteger(value) && value >= 0) out.push(`CONNECTION LIMIT ${value}`);
        else if (typeof value === 'string' && /^\d+$/.test(value)) out.push(`CONNECTION LIMIT ${Number(value)}`);
        else throw new ConnectorError(ConnectorErrorCode.Rejected, `attribute connectionLimit = ${JSON.stringify(value)}: must be a non-negative integer or null`);
      } else if (name === 'validUntil') {
        const v = canonicalValidUntil(value);
        if (v === null) out.push("VALID UNTIL 'infinity'");
        else if (v === '-infinity') out.push("VALID UNTIL '-infinity'");
        else if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) out.push(`VALID UNTIL ${quoteLiteral(v)}`);
        else throw new ConnectorError(ConnectorErrorCode.Rejected, `attribute validUntil = ${JSON.stringify(value)}: must be an ISO 8601 timestamp or null`);
      } else {
        throw new ConnectorError(ConnectorErrorCode.Rejected, `attribute ${name} is not supported by PostgreSQL targets (supported: ${ROLE_ATTRIBUTES.join(', ')})`);
      }
    }
    return out;
  }

  async createAccount(d: DesiredAccount): Promise<TargetAccount> {
    const role = quoteRole(d.accountName);
    const options = [d.state === 'DISABLED' ? 'NOLOGIN' : 'LOGIN', ...this.optionClauses(Object.fromEntries(Object.entries(d.attributes).filter(([, v]) => v !== null)))];
    const oid = await this.creates.submit({ role, statements: [`CREATE ROLE ${role} ${options.join(' ')}`, `COMMENT ON ROLE ${role} IS ${quoteLiteral(this.marker(d.personId))}`] });
    if (!oid) throw new ConnectorError(ConnectorErrorCode.Unavailable, 'role vanished right after it was created');
    return { ref: oid, name: d.accountName, owner: d.personId, enabled: d.state !== 'DISABLED', attributes: this.createdAttributes(d.attributes), groups: [] };
  }

  /** The managed attributes of a role just created with these values, as readAccount would report them. */
  private createdAttributes(attributes: Attributes): Attributes {
    const limit = attributes['connectionLimit'];
    const until = attributes['validUntil'];
    return {
      connectionLimit: limit === null || limit === undefined ? null : Number(limit),
      validUntil: canonicalValidUntil(until),
    };
  }

  async updateAccount(account: TargetAccount, patch: AccountPatch, d: DesiredAccount): Promise<TargetAccount> {
    const statements: string[] = [];
    let name = account.name;
    if (patch.name !== undefined && patch.name !== name) {
      statements.push(`ALTER ROLE ${quoteRole(name)} RENAME TO ${quoteRole(patch.name)}`);
      name = patch.name;
    }
    if (patch.attributes) {
      const clauses = this.optionClauses(patch.attributes);
      if (clauses.length) statements.push(`ALTER ROLE ${quoteRole(name)} ${clauses.join(' ')}`);
    }
    if (patch.owner !== undefined) statements.push(`COMMENT ON ROLE ${quoteRole(name)} IS ${quoteLiteral(this.marker(patch.owner))}`);
    if (statements.length) await this.transaction('alter role', statements);
    const after = await this.readAccount({ personId: d.personId, accountName: name, accountRef: account.ref, desired: d });
    if (!after) throw new ConnectorError(ConnectorErrorCode.Unavailable, 'role vanished during the update');
    return after;
  }

  async enableAccount(account: TargetAccount): Promise<void> {
    await this.query('enable role', `ALTER ROLE ${quoteRole(account.name)} LOGIN`);
  }

  /**
   * NOLOGIN and, with `disable.terminateSessions`, the end of the role's sessions in one
   * transaction: a termination that fails (no pg_signal_backend → 42501, a dropped connection)
   * rolls the NOLOGIN back, so the retry does both again. After the commit the sessions are swept
   * once more (one that logged in while the NOLOGIN was not yet committed); any still open fail
   * the call as transient, and the retry's read sees the role as not yet disabled.
   */
  async disableAccount(account: TargetAccount): Promise<void> {
    const role = quoteRole(account.name);
    if (!this.config.disable.terminateSessions) {
      await this.query('disable role', `ALTER ROLE ${role} NOLOGIN`);
      return;
    }
    await this.transaction('disable role', [`ALTER ROLE ${role} NOLOGIN`, terminateStatement(role)]);
    await this.sweepSessions(account, 'disable role');
  }

  /** Terminates what is left of the role's sessions (each query a transaction of its own, so pg_stat_activity is read afresh) until none is. */
  private async sweepSessions(account: TargetAccount, what: string): Promise<void> {
    for (let round = 0; round < TERMINATE_ROUNDS; round++) {
      const left = await this.query(
        `${what}: terminate sessions`,
        `SELECT pg_terminate_backend(pid, ${TERMINATE_WAIT_MS}) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [account.name],
      );
      if (left.rowCount === 0) return;
    }
    throw new ConnectorError(ConnectorErrorCode.Unavailable, `${what}: sessions of role oid ${account.ref} are still open after ${TERMINATE_ROUNDS} terminations`);
  }

  /**
   * One transaction: the role's sessions ended (first, so that none holds a lock DROP OWNED
   * waits for), then per `delete.ownedObjects` its objects reassigned and/or dropped, then the
   * role. REASSIGN/DROP OWNED need the privileges of the role: a connector that is no superuser
   * makes itself a member first (CREATEROLE allows it; the membership goes with the role).
   */
  async deleteAccount(account: TargetAccount): Promise<void> {
    const role = quoteRole(account.name);
    const policy = this.config.delete;
    const statements: string[] = [];
    if (policy.terminateSessions) statements.push(terminateStatement(role));
    if (policy.ownedObjects !== 'refuse') statements.push(`GRANT ${role} TO CURRENT_USER`);
    if (policy.ownedObjects === 'reassign') statements.push(`REASSIGN OWNED BY ${role} TO ${quoteRole(policy.reassignTo!)}`, `DROP OWNED BY ${role}`);
    if (policy.ownedObjects === 'drop') statements.push(`DROP OWNED BY ${role}`);
    statements.push(`DROP ROLE IF EXISTS ${role}`);
    try {
      await this.transaction('drop role', statements);
    } catch (e) {
      const cause = (e as ConnectorError).options?.cause as { code?: string; detail?: string } | undefined;
      if (cause?.code === '2BP01') {
        // PostgreSQL's detail names the dependent objects (never the role): "owner of table t", "privileges for schema s".
        // It may name the role itself ("… belonging to role <name> in schema s"): that is redacted.
        const detail = cause.detail ? ` (${redactValues(cause.detail.replace(/\s+/g, ' '), [account.name]).slice(0, 300)})` : '';
        const why =
          policy.ownedObjects === 'refuse'
            ? `owns objects or holds privileges${detail}; the target's delete.ownedObjects policy is "refuse": nothing was changed (reassign or drop them, or set the policy to reassign or drop)`
            : `still owns objects or holds privileges that delete.ownedObjects "${policy.ownedObjects}" did not remove${detail}: REASSIGN/DROP OWNED act only on the target URL's database, and privileges granted by other roles can only be revoked by them; nothing was changed`;
        throw new ConnectorError(ConnectorErrorCode.Rejected, `role oid ${account.ref} (person ${account.owner ?? 'unknown'}) ${why}`, { cause: e });
      }
      throw e;
    }
  }

  /**
   * One query per page, with the same columns (and so the same open-sessions rule) as the reads
   * for commands. The page's roles are chosen first (marker prefix, name order, LIMIT) and only
   * they get the memberships and the open-sessions check: pg_stat_activity is read once per page
   * and compared with the page's NOLOGIN roles only, never with every managed role.
   */
  async listAccounts(cursor: string | null, pageSize: number): Promise<Page<TargetAccount>> {
    const r = await this.query<RoleRow>(
      'list roles',
      `SELECT ${this.readColumns}
       FROM (SELECT pr.oid FROM pg_roles pr JOIN pg_shdescription pd ON pd.objoid = pr.oid AND pd.classoid = 'pg_authid'::regclass
             WHERE starts_with(pd.description, $1) AND ($2::text IS NULL OR pr.rolname > $2) ORDER BY pr.rolname COLLATE "C" LIMIT $3) page
       JOIN pg_roles r ON r.oid = page.oid JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass
       ORDER BY r.rolname COLLATE "C"`,
      [this.config.markerPrefix, cursor, pageSize],
    );
    const items = r.rows.map((row) => this.toAccount(row));
    return { items, next: items.length === pageSize ? items.at(-1)!.name : null };
  }

  /**
   * Grants only managed group roles: the name must match `groups.managedPattern` (when set), and
   * neither the role nor any role it is a member of (directly or through others: membership
   * allows SET ROLE to them) may be a superuser, CREATEROLE, REPLICATION or BYPASSRLS role, a
   * predefined `pg_*` role (pg_read_server_files, pg_execute_server_program, ...), a login role or
   * a role Provisio manages as someone's account. A refusal is permanent and names the rule.
   */
  async addGroupMembership(account: TargetAccount, group: string): Promise<void> {
    const refuse = (rule: string) => new ConnectorError(ConnectorErrorCode.InvalidCommand, `group role ${group} refused on target ${this.config.id}: ${rule}`);
    const pattern = this.config.groups.managedPattern;
    if (pattern !== undefined && !new RegExp(pattern).test(group)) throw refuse(`not a managed group (groups.managedPattern ${pattern})`);
    const r = await this.query<{ oid: string; rolname: string; depth: number; rolsuper: boolean; rolcreaterole: boolean; rolreplication: boolean; rolbypassrls: boolean; rolcanlogin: boolean; comment: string | null }>(
      'find group role',
      `WITH RECURSIVE up(oid, depth) AS (
         SELECT oid, 0 FROM pg_roles WHERE rolname = $1
         UNION SELECT m.roleid, up.depth + 1 FROM pg_auth_members m JOIN up ON m.member = up.oid WHERE up.depth < 32)
       SELECT g.oid::text AS oid, g.rolname, min(up.depth)::int AS depth, g.rolsuper, g.rolcreaterole, g.rolreplication, g.rolbypassrls, g.rolcanlogin, d.description AS comment
       FROM up JOIN pg_roles g ON g.oid = up.oid
       LEFT JOIN pg_shdescription d ON d.objoid = g.oid AND d.classoid = 'pg_authid'::regclass
       GROUP BY g.oid, g.rolname, g.rolsuper, g.rolcreaterole, g.rolreplication, g.rolbypassrls, g.rolcanlogin, d.description ORDER BY 2`,
      [group],
    );
    if (r.rows.length === 0) throw new ConnectorError(ConnectorErrorCode.GroupNotFound, `group role ${group} does not exist on target ${this.config.id}`);
    for (const g of r.rows) {
      const via = g.depth === 0 ? '' : ` through its membership in ${g.rolname}`;
      const privileges = [g.rolsuper && 'SUPERUSER', g.rolcreaterole && 'CREATEROLE', g.rolreplication && 'REPLICATION', g.rolbypassrls && 'BYPASSRLS'].filter(Boolean);
      if (privileges.length) throw refuse(`grants ${privileges.join(', ')}${via} (privileged roles are never granted)`);
      if (g.rolname.startsWith('pg_')) throw refuse(`grants the predefined role ${g.rolname}${g.depth === 0 ? '' : ' through membership'} (predefined roles are never granted)`);
      if (g.depth === 0 && g.rolcanlogin) throw refuse('is a login role (only NOLOGIN group roles are granted)');
      // A person's role is named by its oid: its name is the person's account name.
      if (this.ownerOf(g.comment) !== null) throw refuse(`${g.depth === 0 ? 'is' : `is a member of role oid ${g.oid},`} a role Provisio manages as a person's account`);
    }
    await this.query('grant group role', `GRANT ${quoteRole(group)} TO ${quoteRole(account.name)}`);
  }

  async removeGroupMembership(account: TargetAccount, group: string): Promise<void> {
    await this.query('revoke group role', `REVOKE ${quoteRole(group)} FROM ${quoteRole(account.name)}`);
  }

  async listGroups(cursor: string | null, pageSize: number): Promise<Page<TargetGroup>> {
    const r = await this.query<{ oid: string; rolname: string; members: string }>(
      'list group roles',
      `SELECT r.oid::text AS oid, r.rolname, (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid)::text AS members
       FROM pg_roles r WHERE NOT r.rolcanlogin AND r.rolname !~ '^pg_' AND ($1::text IS NULL OR r.rolname > $1)
         AND NOT EXISTS (SELECT 1 FROM pg_shdescription d WHERE d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass AND starts_with(d.description, $3))
       ORDER BY r.rolname COLLATE "C" LIMIT $2`,
      [cursor, pageSize, this.config.markerPrefix],
    );
    const items = r.rows.map((g) => ({ name: g.rolname, ref: g.oid, memberCount: Number(g.members) }));
    return { items, next: items.length === pageSize ? items.at(-1)!.name : null };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
