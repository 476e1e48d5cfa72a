import type { AccountState } from '@provisio/contracts';

export type AttributeValue = string | boolean | number | string[] | null;

/** The desired state of one person's account on one target, before versioning. */
export interface DesiredAccount {
  target: string;
  targetKind: string;
  state: AccountState;
  accountName: string;
  attributes: Record<string, AttributeValue>;
  groups: string[];
}

/** Stable serialization for change detection: key order and group order do not matter. */
export function canonicalJson(d: DesiredAccount): string {
  const attributes = Object.fromEntries(Object.entries(d.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify({
    target: d.target,
    targetKind: d.targetKind,
    state: d.state,
    accountName: d.accountName,
    attributes,
    groups: [...d.groups].sort(),
  });
}

export function sameDesired(a: DesiredAccount | null, b: DesiredAccount | null): boolean {
  if (a === null || b === null) return a === b;
  return canonicalJson(a) === canonicalJson(b);
}
