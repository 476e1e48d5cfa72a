import type { AccountState, HrAttributes, LifecycleKind } from '@provisio/contracts';

/** The desired state of one person's account on one target, before versioning. */
export interface DesiredAccount {
  target: string;
  targetKind: string;
  state: AccountState;
  accountName: string;
  attributes: Record<string, string | boolean | number | string[] | null>;
  groups: string[];
}

export interface PersonFacts {
  personId: string;
  kind: LifecycleKind;
  attributes: HrAttributes;
}

/** Stable serialization for change detection: key order and group order do not matter. */
export function canonicalJson(d: DesiredAccount): string {
  const sortKeys = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify({ ...d, attributes: sortKeys(d.attributes), groups: [...d.groups].sort() });
}
