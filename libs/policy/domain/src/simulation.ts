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

/** The difference between two desired states of one account; null when equal. */
export function diffAccount(personId: string, target: string, before: DesiredAccount | null, after: DesiredAccount | null): AccountChange | null {
  const had = exists(before);
  const has = exists(after);
  if (!had && !has) return null;
  const groupsBefore = new Set(had ? before.groups : []);
  const groupsAfter = new Set(has ? after.groups : []);
  const attrsBefore = had ? before.attributes : {};
  const attrsAfter = has ? after.attributes : {};
  const names = [...new Set([...Object.keys(attrsBefore), ...Object.keys(attrsAfter)])].sort();
  const change: AccountChange = {
    personId,
    target,
    change: had && !has ? 'LOSE_ACCOUNT' : !had && has ? 'GAIN_ACCOUNT' : before!.state !== after!.state ? 'STATE' : 'UPDATE',
    stateBefore: had ? before.state : null,
    stateAfter: has ? after.state : null,
    accountNameBefore: had ? before.accountName : null,
    accountNameAfter: has ? after.accountName : null,
    groupsAdded: [...groupsAfter].filter((g) => !groupsBefore.has(g)).sort(),
    groupsRemoved: [...groupsBefore].filter((g) => !groupsAfter.has(g)).sort(),
    attributesChanged: names.filter((n) => !sameValue(attrsBefore[n], attrsAfter[n])).map((n) => ({ name: n, before: attrsBefore[n], after: attrsAfter[n] })),
  };
  if (
    change.change === 'UPDATE' &&
    change.groupsAdded.length === 0 &&
    change.groupsRemoved.length === 0 &&
    change.attributesChanged.length === 0 &&
    change.accountNameBefore === change.accountNameAfter
  ) {
    return null;
  }
  return change;
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
