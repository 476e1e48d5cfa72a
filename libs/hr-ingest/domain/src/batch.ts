import { fieldError, type FieldError } from './field-error.js';
import { decide, type DecideContext, type Decision } from './lifecycle-decision.js';
import type { WorkerRecord } from './worker-input.js';
import type { PersonState } from './worker-record.js';

/** Worker ids that occur more than once, with how often. */
export function duplicateWorkerIds(workerIds: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of workerIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, n] of counts) if (n < 2) counts.delete(id);
  return counts;
}

export function duplicateError(workerId: string, count: number, where: string): FieldError {
  return fieldError('workerId', workerId, 'unique-in-batch', `worker ${workerId} appears ${count} times in this ${where}; every one of them is rejected, the other records are processed`);
}

export interface BatchContext extends Omit<DecideContext, 'newPersonId' | 'resolveManager'> {
  /** personId of a worker of the source outside the batch (the store), if known. */
  resolveManager: (workerId: string) => string | undefined;
  newPersonId: () => string;
  /** Ids already assigned to new workers of the same snapshot (so reports resolve within it). */
  assigned?: ReadonlyMap<string, string> | undefined;
}

export type BatchOutcome = { index: number; record: WorkerRecord; decision: Decision } | { index: number; record: WorkerRecord; rejected: FieldError[] };

/**
 * Decides a batch of records of one source against the stored persons (`existing`, by worker
 * id). Records whose worker id occurs twice are all rejected; new workers get their personIds
 * before any decision, so a report resolves a manager who comes later in the same batch.
 */
export function decideBatch(records: readonly WorkerRecord[], existing: ReadonlyMap<string, PersonState>, ctx: BatchContext, where = 'batch'): BatchOutcome[] {
  const dupes = duplicateWorkerIds(records.map((r) => r.workerId));
  const assigned = new Map<string, string>();
  for (const r of records) {
    if (dupes.has(r.workerId) || existing.has(r.workerId) || assigned.has(r.workerId)) continue;
    assigned.set(r.workerId, ctx.assigned?.get(r.workerId) ?? ctx.newPersonId());
  }
  // Stored persons first (the batch's, then the store's), then ids assigned to new workers.
  const resolveManager = (workerId: string) => existing.get(workerId)?.personId ?? assigned.get(workerId) ?? ctx.resolveManager(workerId) ?? ctx.assigned?.get(workerId);
  return records.map((record, index) => {
    const n = dupes.get(record.workerId);
    if (n !== undefined) return { index, record, rejected: [duplicateError(record.workerId, n, where)] };
    const decision = decide(existing.get(record.workerId), { type: 'record', record }, {
      now: ctx.now,
      policy: ctx.policy,
      resolveManager,
      newPersonId: () => assigned.get(record.workerId) ?? ctx.newPersonId(),
    });
    return { index, record, decision };
  });
}
