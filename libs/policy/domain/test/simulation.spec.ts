import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { diffAccount, SimulationAggregator, type AccountChange, type AttributeValue, type DesiredAccount } from '../src/index.js';

/** The plain definition: sets of groups, the union of attribute names, JSON equality of values. */
function reference(personId: string, target: string, before: DesiredAccount | null, after: DesiredAccount | null): AccountChange | null {
  const exists = (d: DesiredAccount | null): d is DesiredAccount => d !== null && d.state !== 'ABSENT';
  const had = exists(before);
  const has = exists(after);
  if (!had && !has) return null;
  const gb = new Set(had ? before.groups : []);
  const ga = new Set(has ? after.groups : []);
  const ab: Record<string, AttributeValue> = had ? before.attributes : {};
  const aa: Record<string, AttributeValue> = has ? after.attributes : {};
  const names = [...new Set([...Object.keys(ab), ...Object.keys(aa)])].sort();
  const c: AccountChange = {
    personId,
    target,
    change: had && !has ? 'LOSE_ACCOUNT' : !had && has ? 'GAIN_ACCOUNT' : before!.state !== after!.state ? 'STATE' : 'UPDATE',
    stateBefore: had ? before.state : null,
    stateAfter: has ? after.state : null,
    accountNameBefore: had ? before.accountName : null,
    accountNameAfter: has ? after.accountName : null,
    groupsAdded: [...ga].filter((g) => !gb.has(g)).sort(),
    groupsRemoved: [...gb].filter((g) => !ga.has(g)).sort(),
    attributesChanged: names.filter((n) => JSON.stringify(ab[n]) !== JSON.stringify(aa[n])).map((n) => ({ name: n, before: ab[n], after: aa[n] })),
  };
  const same = c.change === 'UPDATE' && !c.groupsAdded.length && !c.groupsRemoved.length && !c.attributesChanged.length && c.accountNameBefore === c.accountNameAfter;
  return same ? null : c;
}

const desired = fc.option(
  fc.record({
    target: fc.constant('dir'),
    targetKind: fc.constant('ldap'),
    state: fc.constantFrom('ACTIVE', 'DISABLED', 'ABSENT'),
    accountName: fc.constantFrom('jdoe', 'jdoe2'),
    attributes: fc.dictionary(fc.constantFrom('cn', 'mail', 'title', 'dept'), fc.oneof(fc.constantFrom('a', 'b', null, false, 7), fc.array(fc.constantFrom('x', 'y'), { maxLength: 2 }))),
    groups: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 5 }),
  }) as fc.Arbitrary<DesiredAccount>,
  { nil: null },
);

describe('simulation diff', () => {
  it('diffAccount is the plain set and attribute difference', () => {
    fc.assert(fc.property(desired, desired, (b, a) => expect(diffAccount('p', 'dir', b, a)).toEqual(reference('p', 'dir', b, a))));
  });

  it('summarizes gains, losses, state changes, groups and SoD per target', () => {
    const agg = new SimulationAggregator();
    const d = (state: DesiredAccount['state'], groups: string[]): DesiredAccount => ({ target: 'dir', targetKind: 'ldap', state, accountName: 'x', attributes: {}, groups });
    for (const c of [diffAccount('p1', 'dir', null, d('ACTIVE', ['a'])), diffAccount('p2', 'dir', d('ACTIVE', ['a', 'b']), d('DISABLED', [])), diffAccount('p3', 'dir', d('ACTIVE', ['a']), null)])
      agg.addChange(c!);
    agg.addPerson();
    agg.addViolations('p4', [], [{ ruleId: 's', mode: 'flag', status: 'FLAGGED', conflicting: [], dropped: [], exceptionId: null }]);
    expect(agg.summary()).toMatchObject({
      personsAffected: 4,
      targets: [{ target: 'dir', personsAffected: 3, accountsGained: 1, accountsLost: 1, stateChanged: 1, groupsAdded: { a: 1 }, groupsRemoved: { a: 2, b: 1 } }],
      violationsIntroduced: { 's:FLAGGED': 1 },
    });
  });
});
