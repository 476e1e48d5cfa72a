import type pg from 'pg';
import { fromPostgresError } from './postgres-errors.js';

/** One role to create: its quoted name and the statements that make it (CREATE ROLE, COMMENT). */
export interface RoleCreate {
  role: string;
  statements: string[];
}

export interface CreateBatchOptions {
  /** Roles per transaction at most. */
  maxRoles: number;
  /** Create transactions on the target at once at most; more creates wait and go together. */
  maxInFlight: number;
  /**
   * How long a shared transaction waits for a lock (a role of the same name being created or
   * dropped by another session) before it gives up and its roles go one by one: one person's
   * blocked name never holds up the others for longer.
   */
  lockTimeoutMs: number;
  /**
   * The longest a create transaction may run (the target's callTimeoutMs): a create the kit gave
   * up on is cancelled by the server then, instead of landing after its command's outcome.
   */
  statementTimeoutMs: number;
}

interface Pending extends RoleCreate {
  resolve: (oid: string | undefined) => void;
  reject: (e: unknown) => void;
}

/**
 * Whether PostgreSQL answered with an error (a SQLSTATE other than a connection failure), rather
 * than the connection failing: only then can each role's own create tell more.
 */
function isServerError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  // Not: connection exceptions (08), insufficient resources (53), operator intervention such as
  // a cancelled statement or a shutdown (57), system errors (58) — those are the batch's, not a role's.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57|58)/.test(code);
}

/** SQLSTATE of a lock wait that reached lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

/** A string literal of a quoted identifier (it holds no NUL: quoteRole refused that). */
const literal = (quoted: string) => `'${quoted.replace(/'/g, "''")}'`;

/**
 * Group commit for CREATE ROLE. Creates are sent at once while fewer than `maxInFlight` create
 * transactions run on the target; the ones that arrive meanwhile go together in the next: one
 * multi-statement simple query, which PostgreSQL runs as one implicit transaction (one round
 * trip, one commit and one WAL flush for all of them), ending with one SELECT of the new roles'
 * oids. A role's create is atomic either way (CREATE and COMMENT commit together or not at
 * all). When the batch fails — any role's error rolls all of them back — every role of it is
 * created again in a transaction of its own, so each gets exactly its own outcome, and one
 * person's bad name never fails another's create. Every transaction of the batcher waits at
 * most `lockTimeoutMs` for a lock (another session creating or dropping a role of the same
 * name): one blocked name delays the others by that much at most (twice: in the batch, then
 * alone), and then waits on its own, outside the batcher's slots, as any create would. Every
 * create transaction runs with statement_timeout = `statementTimeoutMs`: one the kit gave up on is
 * cancelled by the server too. When the connection fails instead (or the server is out of
 * resources, or cancelled the statement), every caller gets that error at once.
 */
export class CreateBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly run: (sql: string) => Promise<pg.QueryResult | pg.QueryResult[]>,
    private readonly options: CreateBatchOptions,
  ) {}

  /** Creates the role; resolves with its oid (undefined if it vanished at once), or rejects with the connector error of its own create. */
  submit(create: RoleCreate): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...create, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxRoles);
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      await this.one(batch[0]!);
      return;
    }
    let oids: Map<string, string>;
    try {
      oids = await this.create(batch, this.options.lockTimeoutMs);
    } catch (e) {
      // No answer from PostgreSQL (connection refused or lost): everybody's outcome, no retry per role.
      if (!isServerError(e)) {
        const err = fromPostgresError(e, 'create role');
        for (const p of batch) p.reject(err);
        return;
      }
      // Which role failed, and why, is each role's own business: all again, one by one.
      await Promise.all(batch.map((p) => this.one(p)));
      return;
    }
    for (const p of batch) p.resolve(oids.get(p.role));
  }

  /**
   * One role in a transaction of its own, still within the batcher's slots and so still with
   * the lock timeout; a role whose name stays locked leaves the slot and waits on its own.
   */
  private async one(p: Pending): Promise<void> {
    try {
      p.resolve((await this.create([p], this.options.lockTimeoutMs)).get(p.role));
    } catch (e) {
      if ((e as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE) void this.alone(p);
      else p.reject(fromPostgresError(e, 'create role'));
    }
  }

  /** A create whose name is locked by another session: it waits as long as any create would (the server's statement timeout), outside the slots. */
  private async alone(p: Pending): Promise<void> {
    try {
      p.resolve((await this.create([p])).get(p.role));
    } catch (e) {
      p.reject(fromPostgresError(e, 'create role'));
    }
  }

  /** The roles' statements and the read-back of their oids (a regrole cast: a catalog cache look-up) as one implicit transaction. */
  private async create(batch: RoleCreate[], lockTimeoutMs?: number): Promise<Map<string, string>> {
    const sql = [
      `SET LOCAL statement_timeout = ${Math.max(1, Math.floor(this.options.statementTimeoutMs))}`,
      ...(lockTimeoutMs === undefined ? [] : [`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`]),
      ...batch.flatMap((c) => c.statements),
      `SELECT n AS role, n::regrole::oid::text AS oid FROM unnest(ARRAY[${batch.map((c) => literal(c.role)).join(', ')}]::text[]) AS n`,
    ].join(';\n');
    const r = await this.run(sql);
    const rows = ((Array.isArray(r) ? r : [r]).at(-1)?.rows ?? []) as { role: string; oid: string | null }[];
    return new Map(rows.flatMap((row) => (row.oid ? [[row.role, row.oid] as [string, string]] : [])));
  }
}
