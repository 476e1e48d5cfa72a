import type { AttributeValue, DesiredAccount } from './desired-state.js';
import type { Violation } from './evaluator.js';

export type ChangeKind = 'GAIN_ACCOUNT' | 'LOSE_ACCOUNT' | 'STATE' | 'UPDATE';

/** How one person's account on one target differs between two policies. */
export interface AccountChange {
  personId: string;
  target: string;
  change: ChangeKind;
  stateBefore: string | null;
  stateAfter: string | null;
  accountNameBefore: string | null;
  accountNameAfter: string | null;
  groupsAdded: string[];
  groupsRemoved: string[];
  attributesChanged: { name: string; before: AttributeValue | undefined; after: AttributeValue | undefined }[];
}

const exists = (d: DesiredAccount | null): d is DesiredAccount => d !== null && d.state !== 'ABSENT';

function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((v, i) => v === b[i]);
}

/** Distinct and sorted; already the case for the evaluator's groups, so usually just a check. */
function sortedCopy(a: readonly string[]): readonly string[] {
  for (let i = 1; i < a.length; i++) if (a[i - 1]! >= a[i]!) return [...new Set(a)].sort();
  return a;
}

/** Groups only in `a` and only in `b`, both sorted (the evaluator keeps groups sorted: one merge walk). */
function groupDifference(a: readonly string[], b: readonly string[]): { onlyA: string[]; onlyB: string[] } {
  const x = sortedCopy(a);
  const y = sortedCopy(b);
  const onlyA: string[] = [];
  const onlyB: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (j >= y.length || (i < x.length && x[i]! < y[j]!)) onlyA.push(x[i++]!);
    else if (i >= x.length || y[j]! < x[i]!) onlyB.push(y[j++]!);
    else {
      i++;
      j++;
    }
  }
  return { onlyA, onlyB };
}

const NO_ATTRIBUTES: Record<string, AttributeValue> = {};

/** The difference between two desired states of one account; null when equal. */
export function diffAccount(personId: string, target: string, before: DesiredAccount | null, after: DesiredAccount | null): AccountChange | null {
  const had = exists(before);
  const has = exists(after);
  if (!had && !has) return null;
  const { onlyA: groupsRemoved, onlyB: groupsAdded } = groupDifference(had ? before.groups : [], has ? after.groups : []);
  const attrsBefore = had ? before.attributes : NO_ATTRIBUTES;
  const attrsAfter = has ? after.attributes : NO_ATTRIBUTES;
  const attributesChanged: AccountChange['attributesChanged'] = [];
  for (const n of Object.keys(attrsBefore)) if (!sameValue(attrsBefore[n], attrsAfter[n])) attributesChanged.push({ name: n, before: attrsBefore[n], after: attrsAfter[n] });
  for (const n of Object.keys(attrsAfter)) if (!(n in attrsBefore)) attributesChanged.push({ name: n, before: undefined, after: attrsAfter[n] });
  if (attributesChanged.length > 1) attributesChanged.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const kind: ChangeKind = had && !has ? 'LOSE_ACCOUNT' : !had && has ? 'GAIN_ACCOUNT' : before!.state !== after!.state ? 'STATE' : 'UPDATE';
  const accountNameBefore = had ? before.accountName : null;
  const accountNameAfter = has ? after.accountName : null;
  if (kind === 'UPDATE' && groupsAdded.length === 0 && groupsRemoved.length === 0 && attributesChanged.length === 0 && accountNameBefore === accountNameAfter) {
    return null;
  }
  return {
    personId,
    target,
    change: kind,
    stateBefore: had ? before.state : null,
    stateAfter: has ? after.state : null,
    accountNameBefore,
    accountNameAfter,
    groupsAdded,
    groupsRemoved,
    attributesChanged,
  };
}

export interface TargetSummary {
  target: string;
  personsAffected: number;
  accountsGained: number;
  accountsLost: number;
  stateChanged: number;
  accountsRenamed: number;
  attributesChanged: number;
  groupsAdded: Record<string, number>;
  groupsRemoved: Record<string, number>;
}

export interface SimulationSummary {
  persons: number;
  personsAffected: number;
  targets: TargetSummary[];
  violationsIntroduced: Record<string, number>;
  violationsResolved: Record<string, number>;
}

/** Aggregates account changes and SoD differences over a population. */
export class SimulationAggregator {
  private persons = 0;
  private readonly affected = new Set<string>();
  private readonly byTarget = new Map<string, TargetSummary & { people: Set<string> }>();
  private readonly introduced: Record<string, number> = {};
  private readonly resolved: Record<string, number> = {};

  addPerson(): void {
    this.persons++;
  }

  addChange(c: AccountChange): void {
    this.affected.add(c.personId);
    let t = this.byTarget.get(c.target);
    if (!t) {
      t = {
        target: c.target,
        personsAffected: 0,
        accountsGained: 0,
        accountsLost: 0,
        stateChanged: 0,
        accountsRenamed: 0,
        attributesChanged: 0,
        groupsAdded: {},
        groupsRemoved: {},
        people: new Set(),
      };
      this.byTarget.set(c.target, t);
    }
    t.people.add(c.personId);
    if (c.change === 'GAIN_ACCOUNT') t.accountsGained++;
    else if (c.change === 'LOSE_ACCOUNT') t.accountsLost++;
    else if (c.change === 'STATE') t.stateChanged++;
    if (c.accountNameBefore !== null && c.accountNameAfter !== null && c.accountNameBefore !== c.accountNameAfter) t.accountsRenamed++;
    if (c.attributesChanged.length > 0) t.attributesChanged++;
    for (const g of c.groupsAdded) t.groupsAdded[g] = (t.groupsAdded[g] ?? 0) + 1;
    for (const g of c.groupsRemoved) t.groupsRemoved[g] = (t.groupsRemoved[g] ?? 0) + 1;
  }

  /** SoD violations (not excepted) present under one policy and not the other. */
  addViolations(personId: string, before: Violation[], after: Violation[]): { introduced: string[]; resolved: string[] } {
    const key = (v: Violation) => `${v.ruleId}:${v.status}`;
    const b = new Set(before.filter((v) => v.status !== 'EXCEPTED').map(key));
    const a = new Set(after.filter((v) => v.status !== 'EXCEPTED').map(key));
    const introduced = [...a].filter((k) => !b.has(k));
    const resolved = [...b].filter((k) => !a.has(k));
    for (const k of introduced) this.introduced[k] = (this.introduced[k] ?? 0) + 1;
    for (const k of resolved) this.resolved[k] = (this.resolved[k] ?? 0) + 1;
    if (introduced.length > 0 || resolved.length > 0) this.affected.add(personId);
    return { introduced, resolved };
  }

  summary(): SimulationSummary {
    return {
      persons: this.persons,
      personsAffected: this.affected.size,
      targets: [...this.byTarget.values()].map(({ people, ...t }) => ({ ...t, personsAffected: people.size })).sort((a, b) => (a.target < b.target ? -1 : 1)),
      violationsIntroduced: this.introduced,
      violationsResolved: this.resolved,
    };
  }
}
