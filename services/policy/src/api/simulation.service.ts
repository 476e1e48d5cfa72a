import { Database, quoteIdent } from '@provisio/persistence';
import {
  diffAccount,
  evaluate,
  SimulationAggregator,
  uniqueCandidate,
  type AccountChange,
  type CompiledPolicy,
  type Evaluation,
  type PolicyFile,
} from '@provisio/policy-domain';
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { PersonState, PersonStateRepository } from '../engine/person-state.repository.js';
import { PolicyApiError } from '../policy/policy-api-error.js';
import { contentHash, type PolicyStore } from '../policy/policy-store.js';

const PAGE = 2000;
/** Persons evaluated between yields to the event loop. */
const SLICE = 200;

/**
 * Unique values a simulation would allocate, kept in memory: simulations write nothing. A
 * namespace's taken values are read once, the first time someone in it needs a value.
 */
class AllocationOverlay {
  private readonly own = new Map<string, Set<string>>();
  constructor(private readonly taken: (namespace: string) => Promise<Set<string>>) {}

  async prepare(namespaces: Iterable<string>): Promise<void> {
    for (const ns of namespaces) if (!this.own.has(ns)) this.own.set(ns, await this.taken(ns));
  }

  /** After prepare() for the namespace. */
  allocate(namespace: string, base: string, maxLength: number, reserved: string[]): string {
    const set = this.own.get(namespace)!;
    for (let n = 1; ; n++) {
      const c = uniqueCandidate(base, n, maxLength);
      if (set.has(c.toLowerCase()) || reserved.includes(c.toLowerCase())) continue;
      set.add(c.toLowerCase());
      return c;
    }
  }
}

async function evaluateSimulated(
  policy: CompiledPolicy,
  state: PersonState,
  now: number,
  overlay: AllocationOverlay,
): Promise<Evaluation> {
  const input = {
    person: state.record,
    now,
    trigger: null,
    manual: state.manual,
    exceptions: state.exceptions,
    allocations: state.allocations,
    previous: state.targets,
  };
  const e = evaluate(policy, input);
  if (e.allocations.length === 0) return e;
  await overlay.prepare(e.allocations.map((r) => r.namespace));
  const allocations = { ...state.allocations };
  for (const r of e.allocations) allocations[r.namespace] = overlay.allocate(r.namespace, r.base, r.maxLength, r.reserved);
  return evaluate(policy, { ...input, allocations });
}

/**
 * Simulations: a candidate policy against the active one over the whole population, with nothing
 * emitted and nothing allocated. Runs in the background in pages (the event loop stays free for
 * live events); progress, summary and per-person changes are kept for a few days.
 */
export class SimulationService {
  private readonly s: string;
  private readonly running = new Set<Promise<void>>();
  private housekeeping: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly store: PolicyStore,
    private readonly persons: PersonStateRepository,
    schema: string,
    private readonly logger: Logger,
    private readonly retentionDays: number,
  ) {
    this.s = quoteIdent(schema);
  }

  async start(files: PolicyFile[], actor: string): Promise<{ id: string; done: Promise<void> }> {
    const candidate = this.store.validate(files);
    if (!candidate.ok) throw new PolicyApiError('INVALID_POLICY', 'the candidate policy is invalid', 422, candidate.problems);
    const active = await this.store.active(this.db.sql);
    const id = randomUUID();
    const total = await this.persons.count(this.db.sql);
    await this.db.sql.query(
      `INSERT INTO ${this.s}.simulations (id, status, base_version, candidate, candidate_hash, persons_total, created_by) VALUES ($1, 'running', $2, $3, $4, $5, $6)`,
      [id, active?.version ?? null, JSON.stringify(files), contentHash(files), total, actor],
    );
    const done = this.run(id, active?.policy ?? null, candidate.policy).catch(async (e: unknown) => {
      this.logger.error({ err: e, simulation: id }, 'simulation failed');
      await this.db.sql.query(`UPDATE ${this.s}.simulations SET status = 'failed', error = $2, updated_at = now(), finished_at = now() WHERE id = $1`, [
        id,
        String((e as Error).message).slice(0, 2000),
      ]);
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return { id, done };
  }

  private async run(id: string, base: CompiledPolicy | null, candidate: CompiledPolicy): Promise<void> {
    const started = Date.now();
    const now = started;
    const taken = (ns: string) => this.persons.takenValues(this.db.sql, ns);
    const baseOverlay = new AllocationOverlay(taken);
    const candidateOverlay = new AllocationOverlay(taken);
    const agg = new SimulationAggregator();
    let done = 0;
    // Pipelined: two pages load ahead (other pooled connections) while this one is evaluated, and
    // the previous page's changes are written meanwhile too.
    type Page = { ids: string[]; states: Map<string, PersonState> } | null;
    const handled = <T>(p: Promise<T>): Promise<T> => {
      p.catch(() => undefined); // awaited later (or abandoned when the run fails)
      return p;
    };
    let nextIds = handled(this.persons.page(this.db.sql, '', PAGE));
    const queue: Promise<Page>[] = [];
    const prefetch = () => {
      const ids = nextIds;
      const load = async (list: string[]): Promise<Page> =>
        list.length === 0 ? null : { ids: list, states: await this.persons.load(this.db.sql, list, { lock: false, desiredAttributes: false }) };
      queue.push(handled(ids.then(load)));
      nextIds = handled(ids.then((list) => (list.length === 0 ? [] : this.persons.page(this.db.sql, list[list.length - 1]!, PAGE))));
    };
    prefetch();
    prefetch();
    let writing: Promise<unknown> = Promise.resolve();
    for (;;) {
      const page = await queue.shift()!;
      if (!page) break;
      prefetch();
      const rows: { personId: string; changes: AccountChange[] }[] = [];
      let slice = 0;
      for (let state of page.states.values()) {
        // Evaluation is CPU work on the service's event loop: let live events through regularly.
        if (++slice % SLICE === 0) await yieldToEventLoop();
        agg.addPerson();
        const personId = state.record.personId;
        let before = base ? await evaluateSimulated(base, state, now, baseOverlay) : null;
        let after = await evaluateSimulated(candidate, state, now, candidateOverlay);
        if ([...(before?.targets ?? []), ...after.targets].some((t) => t.error !== null)) {
          // A target in error keeps its last desired state: compare with the real one, attributes included.
          state = (await this.persons.load(this.db.sql, [personId], { lock: false })).get(personId) ?? state;
          before = base ? await evaluateSimulated(base, state, now, baseOverlay) : null;
          after = await evaluateSimulated(candidate, state, now, candidateOverlay);
        }
        const changes: AccountChange[] = [];
        const beforeByTarget = new Map((before?.targets ?? []).map((t) => [t.target, t.desired]));
        const targets = new Set([...beforeByTarget.keys(), ...after.targets.map((t) => t.target)]);
        const afterByTarget = new Map(
          after.targets.map((t) => {
            // A target the candidate removes keeps the account's last attributes (what the base
            // policy computes); the simulation loads desired states without their attributes.
            const base = beforeByTarget.get(t.target);
            return [t.target, t.removed && t.desired && base ? { ...t.desired, attributes: base.attributes } : t.desired];
          }),
        );
        for (const target of targets) {
          const c = diffAccount(personId, target, beforeByTarget.get(target) ?? null, afterByTarget.get(target) ?? null);
          if (c) {
            agg.addChange(c);
            changes.push(c);
          }
        }
        const sod = agg.addViolations(personId, before?.violations ?? [], after.violations);
        if (sod.introduced.length > 0 || sod.resolved.length > 0) {
          changes.push({
            personId,
            target: '#sod',
            change: 'UPDATE',
            stateBefore: null,
            stateAfter: null,
            accountNameBefore: null,
            accountNameAfter: null,
            groupsAdded: sod.introduced,
            groupsRemoved: sod.resolved,
            attributesChanged: [],
          });
        }
        if (changes.length > 0) rows.push({ personId, changes });
      }
      await writing;
      done += page.ids.length;
      writing = handled(this.writeChanges(id, rows, done));
    }
    await writing;
    const summary = { ...agg.summary(), seconds: (Date.now() - started) / 1000, evaluatedAt: new Date(now).toISOString() };
    await this.db.sql.query(
      `UPDATE ${this.s}.simulations SET status = 'done', persons_done = $2, summary = $3, updated_at = now(), finished_at = now() WHERE id = $1`,
      [id, done, JSON.stringify(summary)],
    );
    this.logger.info({ simulation: id, persons: done, seconds: summary.seconds }, 'simulation finished');
  }

  /** One row per changed person (its changes on every target), in one statement; then progress. */
  private async writeChanges(id: string, rows: { personId: string; changes: AccountChange[] }[], done: number): Promise<void> {
    if (rows.length > 0) {
      await this.db.sql.query(
        `INSERT INTO ${this.s}.simulation_changes (simulation_id, person_id, targets, changes)
         SELECT $1, x.p, ARRAY(SELECT jsonb_array_elements_text(x.t)), x.c FROM json_to_recordset($2::json) AS x(p text, t jsonb, c jsonb)`,
        [id, JSON.stringify(rows.map((r) => ({ p: r.personId, t: r.changes.map((c) => c.target), c: r.changes })))],
      );
    }
    await this.db.sql.query(`UPDATE ${this.s}.simulations SET persons_done = $2, updated_at = now() WHERE id = $1`, [id, done]);
  }

  async get(id: string): Promise<unknown> {
    const r = await this.db.sql.query<{
      id: string;
      status: string;
      base_version: string | null;
      candidate_hash: string;
      persons_total: string;
      persons_done: string;
      summary: unknown;
      error: string | null;
      created_by: string;
      created_at: Date;
      updated_at: Date;
      finished_at: Date | null;
    }>(
      `SELECT id, status, base_version, candidate_hash, persons_total, persons_done, summary, error, created_by, created_at, updated_at, finished_at FROM ${this.s}.simulations WHERE id = $1`,
      [id],
    );
    const x = r.rows[0];
    if (!x) throw new PolicyApiError('NOT_FOUND', `no simulation ${id}`, 404);
    // A simulation whose replica died stops making progress: report it as abandoned.
    const abandoned = x.status === 'running' && Date.now() - x.updated_at.getTime() > 120_000;
    return {
      id: x.id,
      status: abandoned ? 'abandoned' : x.status,
      baseVersion: x.base_version === null ? null : Number(x.base_version),
      candidateHash: x.candidate_hash,
      progress: { persons: Number(x.persons_total), done: Number(x.persons_done) },
      summary: x.summary,
      error: x.error,
      createdBy: x.created_by,
      createdAt: x.created_at.toISOString(),
      finishedAt: x.finished_at?.toISOString() ?? null,
    };
  }

  /** Changes in person id order, every change of a person on one page; `limit` counts persons. */
  async changes(id: string, q: { target?: string | undefined; after?: string | undefined; limit: number }): Promise<unknown> {
    await this.get(id);
    const r = await this.db.sql.query<{ person_id: string; changes: AccountChange[] }>(
      `SELECT person_id, changes FROM ${this.s}.simulation_changes WHERE simulation_id = $1 AND ($2::text IS NULL OR $2 = ANY(targets)) AND person_id > $3 ORDER BY person_id LIMIT $4`,
      [id, q.target ?? null, q.after ?? '', q.limit],
    );
    const last = r.rows.at(-1);
    return {
      changes: r.rows.flatMap((x) => (q.target === undefined ? x.changes : x.changes.filter((c) => c.target === q.target))),
      next: r.rows.length === q.limit && last ? last.person_id : null,
    };
  }

  startHousekeeping(): void {
    const purge = () =>
      this.db.sql
        .query(`DELETE FROM ${this.s}.simulations WHERE created_at < now() - make_interval(days => $1)`, [this.retentionDays])
        .catch((e: unknown) => this.logger.warn({ err: e }, 'simulation clean-up failed'));
    void purge();
    this.housekeeping = setInterval(() => void purge(), 3_600_000);
    this.housekeeping.unref();
  }

  stopHousekeeping(): void {
    clearInterval(this.housekeeping);
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
