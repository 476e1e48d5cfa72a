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

function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameGroups(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  let ordered = true;
  for (let i = 0; i < a.length && ordered; i++) ordered = a[i] === b[i];
  if (ordered) return true;
  const x = [...a].sort();
  const y = [...b].sort();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Whether two desired states are the same (what canonicalJson compares, without serializing). */
export function sameDesired(a: DesiredAccount | null, b: DesiredAccount | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.target !== b.target || a.targetKind !== b.targetKind || a.state !== b.state || a.accountName !== b.accountName) return false;
  const keys = Object.keys(a.attributes);
  if (keys.length !== Object.keys(b.attributes).length) return false;
  for (const k of keys) if (!(k in b.attributes) || !sameValue(a.attributes[k], b.attributes[k])) return false;
  return sameGroups(a.groups, b.groups);
}
