import { decideBatch } from './batch.js';
import type { FieldError } from './field-error.js';
import { decide, type LifecycleDecision } from './lifecycle-decision.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';
import type { WorkerRecord } from './worker-input.js';
import type { PersonState } from './worker-record.js';

export interface LedgerEvent extends LifecycleDecision {
  personId: string;
  workerId: string;
}

export interface LedgerResult {
  events: LedgerEvent[];
  rejected: { workerId: string; errors: FieldError[] }[];
  warnings: { workerId: string; warnings: FieldError[] }[];
}

/**
 * hr-ingest's semantics over an in-memory store: deltas, full snapshots (absent workers become
 * leavers), the scheduler's clock and manager resolution, all through the same pure decisions
 * the service makes. It is the model the property tests check, and what `cli validate` uses to
 * preview a file.
 */
export class HrLedger {
  private readonly persons = new Map<string, PersonState>();
  private readonly due = new Map<string, number>();
  private seq = 0;

  constructor(
    private readonly policy: LifecyclePolicy,
    private readonly newPersonId: () => string = () => `p-${++this.seq}`,
  ) {}

  private key(source: string, workerId: string): string {
    return `${source}\u0000${workerId}`;
  }

  get(source: string, workerId: string): PersonState | undefined {
    return this.persons.get(this.key(source, workerId));
  }

  all(): PersonState[] {
    return [...this.persons.values()];
  }

  /**
   * Applies a delta batch (SCIM bulk, webhook, PUT, delta CSV) or a full snapshot of one source.
   * `asOf` is the export's time, as for a CSV upload: rows without a source time take it, and
   * absent workers are judged and dated by it.
   */
  apply(source: string, input: readonly WorkerRecord[], now: number, o: { full?: boolean; absentWorkers?: 'leaver' | 'ignore'; asOf?: number } = {}): LedgerResult {
    const result: LedgerResult = { events: [], rejected: [], warnings: [] };
    const asOf = o.asOf;
    const records = asOf === undefined ? input : input.map((r) => (r.sourceTimestamp === undefined ? { ...r, sourceTimestamp: asOf } : r));
    const existing = new Map<string, PersonState>();
    for (const r of records) {
      const p = this.get(source, r.workerId);
      if (p) existing.set(r.workerId, p);
    }
    const outcomes = decideBatch(records, existing, {
      now,
      policy: this.policy,
      resolveManager: (w) => this.get(source, w)?.personId,
      newPersonId: this.newPersonId,
    }, o.full ? 'file' : 'request');
    const created: string[] = [];
    const decided = new Set<string>();
    for (const out of outcomes) {
      if ('rejected' in out) {
        result.rejected.push({ workerId: out.record.workerId, errors: out.rejected });
        continue;
      }
      const d = out.decision;
      if (d.outcome === 'stale') result.rejected.push({ workerId: out.record.workerId, errors: d.errors });
      if (d.warnings.length > 0) result.warnings.push({ workerId: out.record.workerId, warnings: d.warnings });
      if (d.outcome === 'created') created.push(out.record.workerId);
      if (d.outcome !== 'stale') decided.add(out.record.workerId);
      this.commit(d.state, d.event, d.nextTransitionAt, result);
    }
    if (o.full && (o.absentWorkers ?? 'leaver') === 'leaver') {
      const present = new Set(records.map((r) => r.workerId));
      for (const p of this.all()) {
        if (p.source !== source || present.has(p.workerId)) continue;
        const d = decide(p, { type: 'absent', asOf }, this.ctx(source, now));
        this.commit(d.state, d.event, d.nextTransitionAt, result);
      }
    }
    this.resolveReports(source, created, decided, now, result);
    return result;
  }

  /** Time passes: runs what the durable scheduler would run up to `now`, in due order. */
  tick(now: number): LedgerResult {
    const result: LedgerResult = { events: [], rejected: [], warnings: [] };
    const dueNow = [...this.due.entries()].filter(([, t]) => t <= now).sort((a, b) => a[1] - b[1]);
    for (const [k, at] of dueNow) {
      const p = this.persons.get(k)!;
      const d = decide(p, { type: 'clock' }, this.ctx(p.source, Math.max(now, at)));
      this.commit(d.state, d.event, d.nextTransitionAt, result);
    }
    return result;
  }

  nextDue(): number | undefined {
    let min: number | undefined;
    for (const t of this.due.values()) if (min === undefined || t < min) min = t;
    return min;
  }

  private ctx(source: string, now: number) {
    return { now, policy: this.policy, resolveManager: (w: string) => this.get(source, w)?.personId, newPersonId: this.newPersonId };
  }

  private resolveReports(source: string, created: readonly string[], skip: ReadonlySet<string>, now: number, result: LedgerResult): void {
    if (created.length === 0) return;
    const arrived = new Set(created);
    for (const p of this.all()) {
      if (p.source !== source || skip.has(p.workerId) || p.managerWorkerId === null || !arrived.has(p.managerWorkerId) || p.attributes.managerPersonId !== null) continue;
      const d = decide(p, { type: 'resolve-manager' }, this.ctx(source, now));
      this.commit(d.state, d.event, d.nextTransitionAt, result);
    }
  }

  private commit(state: PersonState | undefined, event: LifecycleDecision | undefined, dueAt: number | null, result: LedgerResult): void {
    if (!state) return;
    const k = this.key(state.source, state.workerId);
    this.persons.set(k, state);
    if (dueAt === null) this.due.delete(k);
    else this.due.set(k, dueAt);
    if (event) result.events.push({ ...event, personId: state.personId, workerId: state.workerId });
  }
}
