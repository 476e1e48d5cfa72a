import type { HrAttributes, LifecycleKind } from '@provisio/contracts';
import { EMPTY_ATTRIBUTES, type PersonState, type WorkerRecord } from './worker-record.js';

export interface LifecycleDecision {
  kind: LifecycleKind;
  attributes: HrAttributes;
  changedAttributes: string[];
}

export interface Decision {
  attributes: HrAttributes;
  events: LifecycleDecision[];
}

/** Applies a delta: attributes the input carries overwrite, absent ones stay. */
export function mergeAttributes(current: HrAttributes, input: WorkerRecord['attributes']): { merged: HrAttributes; changed: string[] } {
  const merged: HrAttributes = { ...current, custom: { ...current.custom } };
  const changed: string[] = [];
  for (const [key, value] of Object.entries(input) as [keyof HrAttributes, unknown][]) {
    if (value === undefined) continue;
    if (key === 'custom') {
      for (const [ck, cv] of Object.entries(value as Record<string, string>)) {
        if (merged.custom[ck] !== cv) {
          merged.custom[ck] = cv;
          changed.push(`custom.${ck}`);
        }
      }
      continue;
    }
    if (merged[key] !== value) {
      (merged as unknown as Record<string, unknown>)[key] = value;
      changed.push(key);
    }
  }
  return { merged, changed: changed.sort() };
}

/**
 * Walking-skeleton decision: a new worker is a joiner, a changed one an update, an unchanged
 * one nothing. (The full differ — movers, leavers, rehires, conversions — builds on this.)
 */
export function decide(previous: PersonState | undefined, incoming: WorkerRecord): Decision {
  const { merged, changed } = mergeAttributes(previous?.attributes ?? EMPTY_ATTRIBUTES, incoming.attributes);
  if (!previous) return { attributes: merged, events: [{ kind: 'JOINER', attributes: merged, changedAttributes: changed }] };
  if (changed.length === 0) return { attributes: merged, events: [] };
  return { attributes: merged, events: [{ kind: 'UPDATE', attributes: merged, changedAttributes: changed }] };
}
