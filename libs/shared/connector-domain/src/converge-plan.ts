import { ConnectorError, ConnectorErrorCode } from './connector-error.js';
import type { AttributeValue, Attributes, DesiredAccount, TargetAccount } from './target-connector.js';

export type Step =
  | { type: 'CREATE' }
  | { type: 'CLAIM' }
  | { type: 'RENAME'; to: string }
  | { type: 'UPDATE'; attributes: Attributes }
  | { type: 'ENABLE' }
  | { type: 'DISABLE' }
  | { type: 'DELETE' }
  | { type: 'ADD_MEMBERSHIP'; group: string }
  | { type: 'REMOVE_MEMBERSHIP'; group: string };

export interface PlanOptions {
  /** Take over an existing account with the desired name that no one owns (SCIM look-up-then-adopt). */
  adoptUnowned: boolean;
  /** Remove memberships that the command does not list (only in managed groups). */
  removeUnlistedGroups: boolean;
  /** Which groups Provisio manages memberships of; others are never removed. */
  isManagedGroup: (group: string) => boolean;
  /** Group names compare case-insensitively (LDAP DNs, AD) when true. */
  groupsCaseInsensitive: boolean;
  /** Attribute names whose values compare case-insensitively (LDAP attributes with caseIgnoreMatch). */
  caseInsensitiveAttributes?: (name: string) => boolean;
  /** Attribute names are case-insensitive on the target (LDAP): `mail` and `Mail` are one attribute. */
  caseInsensitiveAttributeNames?: boolean;
  /**
   * Attributes the target never returns (passwords): written when the account is created and
   * never compared or rewritten afterwards, so a replay does not reset a password the person has
   * changed since, and an unchanged command stays NO_CHANGE.
   */
  writeOnlyAttributes?: (name: string) => boolean;
  /**
   * Where the desired account should live (an LDAP DN) while it is `enabled` as it is now; a
   * different TargetAccount.location means a move. (Enabling/disabling may move it too; that is
   * the ENABLE/DISABLE step's business.)
   */
  locationOf?: (desired: DesiredAccount, enabled: boolean) => string;
  /** Location equality (DNs compare case- and escaping-insensitively). */
  sameLocation?: (a: string, b: string) => boolean;
  /**
   * The target's canonical form of an attribute value, applied to the desired and the current
   * values before they are compared (PostgreSQL: a timestamp as one ISO 8601 string, 'infinity'
   * as null), so that two spellings of one value are no difference. UPDATE steps carry the
   * canonical desired value.
   */
  normalizeAttribute?: (name: string, value: AttributeValue) => AttributeValue;
}

function normalized(attributes: Attributes, normalize: (name: string, value: AttributeValue) => AttributeValue): Attributes {
  return Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, normalize(name, value)]));
}

export const DEFAULT_PLAN_OPTIONS: PlanOptions = {
  adoptUnowned: false,
  removeUnlistedGroups: true,
  isManagedGroup: () => true,
  groupsCaseInsensitive: false,
};

/** Canonical form for comparison: arrays as sorted sets, booleans and numbers as strings. */
export function canonicalValue(v: AttributeValue | undefined, caseInsensitive = false): string | string[] | null {
  if (v === null || v === undefined) return null;
  const s = (x: string) => (caseInsensitive ? x.toLowerCase() : x);
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    return [...new Set(v.map((x) => s(String(x))))].sort();
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string' && (v === 'TRUE' || v === 'FALSE')) return v.toLowerCase();
  if (typeof v === 'string' && v === '') return null;
  return s(String(v));
}

export function valuesEqual(a: AttributeValue | undefined, b: AttributeValue | undefined, caseInsensitive = false): boolean {
  const x = canonicalValue(a, caseInsensitive);
  const y = canonicalValue(b, caseInsensitive);
  if (x === null || y === null) return x === y;
  if (Array.isArray(x) || Array.isArray(y)) {
    const xa = Array.isArray(x) ? x : [x];
    const ya = Array.isArray(y) ? y : [y];
    return xa.length === ya.length && xa.every((v, i) => v === ya[i]);
  }
  return x === y;
}

/** The managed attributes whose values differ (desired value, null = remove). */
export function attributeDifferences(desired: Attributes, current: Attributes, caseInsensitive?: (name: string) => boolean, caseInsensitiveNames = false): Attributes {
  const out: Attributes = {};
  const lower = caseInsensitiveNames ? new Map(Object.entries(current).map(([k, v]) => [k.toLowerCase(), v])) : undefined;
  for (const [name, want] of Object.entries(desired)) {
    const have = name in current ? current[name] : lower?.get(name.toLowerCase());
    if (!valuesEqual(want, have, caseInsensitive?.(name) ?? false)) out[name] = want;
  }
  return out;
}

function groupKey(g: string, ci: boolean): string {
  return ci ? g.toLowerCase() : g;
}

export function membershipDifferences(desired: string[], current: string[], o: Pick<PlanOptions, 'removeUnlistedGroups' | 'isManagedGroup' | 'groupsCaseInsensitive'>): { add: string[]; remove: string[] } {
  const ci = o.groupsCaseInsensitive;
  const want = new Map(desired.map((g) => [groupKey(g, ci), g]));
  const have = new Map(current.map((g) => [groupKey(g, ci), g]));
  const add = [...want].filter(([k]) => !have.has(k)).map(([, g]) => g);
  const remove = o.removeUnlistedGroups ? [...have].filter(([k, g]) => !want.has(k) && o.isManagedGroup(g)).map(([, g]) => g) : [];
  return { add, remove };
}

/**
 * Read → compare → the difference: the steps that make `current` match `desired`, in the order
 * they must run (rename before attribute changes, enable/disable, then memberships; for a
 * DISABLED account of this person, membership removals and DISABLE first). An empty
 * plan means the target already matches — duplicates and replays cost one read.
 *
 * Throws a permanent ConnectorError when the account found belongs to another person, or to no
 * one while adoption is off: Provisio never takes over accounts it does not own.
 */
export function planConvergence(desired: DesiredAccount, current: TargetAccount | null, options: Partial<PlanOptions> = {}): Step[] {
  const o = { ...DEFAULT_PLAN_OPTIONS, ...options };
  const normalize = o.normalizeAttribute;
  if (normalize) {
    desired = { ...desired, attributes: normalized(desired.attributes, normalize) };
    if (current) current = { ...current, attributes: normalized(current.attributes, normalize) };
  }

  if (current === null) {
    if (desired.state === 'ABSENT') return [];
    return [{ type: 'CREATE' }, ...desired.groups.map((group) => ({ type: 'ADD_MEMBERSHIP' as const, group }))];
  }
  const steps: Step[] = [];
  if (current.owner !== desired.personId) {
    // An ABSENT command never touches an account that is not this person's.
    if (desired.state === 'ABSENT') return [];
    if (current.owner !== null) {
      throw new ConnectorError(ConnectorErrorCode.NotManaged, `the account the command names on target ${desired.target} (ref ${current.ref}) belongs to another person`);
    }
    if (!o.adoptUnowned) {
      throw new ConnectorError(ConnectorErrorCode.NotManaged, `the account the command names exists on target ${desired.target} (ref ${current.ref}) and is not managed by Provisio (adoption is off)`);
    }
    steps.push({ type: 'CLAIM' });
  }
  if (desired.state === 'ABSENT') return [{ type: 'DELETE' }];
  const { add, remove } = membershipDifferences(desired.groups, current.groups, o);
  // A leaver's deprovisioning comes first, so that a refused rename or attribute update cannot keep access alive.
  const deprovisionFirst = desired.state === 'DISABLED' && steps.length === 0;
  // Sessions still open on a disabled account: the disable is not done yet.
  const needsDisable = current.enabled || current.openSessions === true;
  if (deprovisionFirst) {
    for (const group of remove) steps.push({ type: 'REMOVE_MEMBERSHIP', group });
    if (needsDisable) steps.push({ type: 'DISABLE' });
  }
  const moved = o.locationOf !== undefined && current.location !== undefined && !(o.sameLocation ?? ((a, b) => a === b))(current.location, o.locationOf(desired, current.enabled));
  if (current.name !== desired.accountName || moved) steps.push({ type: 'RENAME', to: desired.accountName });
  const writeOnly = o.writeOnlyAttributes;
  const compared = writeOnly ? Object.fromEntries(Object.entries(desired.attributes).filter(([name]) => !writeOnly(name))) : desired.attributes;
  const changed = attributeDifferences(compared, current.attributes, o.caseInsensitiveAttributes, o.caseInsensitiveAttributeNames);
  if (Object.keys(changed).length > 0) steps.push({ type: 'UPDATE', attributes: changed });
  if (desired.state === 'ACTIVE' && !current.enabled) steps.push({ type: 'ENABLE' });
  if (desired.state === 'DISABLED' && needsDisable && !deprovisionFirst) steps.push({ type: 'DISABLE' });
  if (!deprovisionFirst) for (const group of remove) steps.push({ type: 'REMOVE_MEMBERSHIP', group });
  for (const group of add) steps.push({ type: 'ADD_MEMBERSHIP', group });
  return steps;
}
