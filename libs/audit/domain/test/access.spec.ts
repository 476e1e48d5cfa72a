import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { accessDuring, carryForward, type AppliedState } from '../src/index.js';

const s = (personId: string, appliedAt: number, state: string, groups: string[], version: number): AppliedState => ({
  personId, target: 'ldap', state, groups, appliedAt, version, commandId: `c-${personId}-${version}`, resultId: `r-${personId}-${version}`, resultSeq: appliedAt,
});

describe('access at a time', () => {
  const history = [
    s('ada', 100, 'ACTIVE', ['staff'], 1),
    s('ada', 200, 'ACTIVE', ['staff', 'admins'], 2),
    s('ada', 300, 'DISABLED', [], 3),
    s('bob', 150, 'ACTIVE', ['staff'], 1),
  ];

  it('answers who has access at T, with since-when and the evidence', () => {
    expect(accessDuring(history, 250).map((g) => [g.personId, g.since, g.state, g.evidence.version])).toEqual([['ada', 100, 'ACTIVE', 2], ['bob', 150, 'ACTIVE', 1]]);
    expect(accessDuring(history, 350).map((g) => g.personId)).toEqual(['bob']);
    expect(accessDuring(history, 50)).toEqual([]);
  });

  it('narrows to an entitlement, and answers "had access at any time in an interval"', () => {
    expect(accessDuring(history, 250, 250, 'admins').map((g) => [g.personId, g.since, g.until])).toEqual([['ada', 200, 300]]);
    expect(accessDuring(history, 120, 140, 'admins')).toEqual([]);
    expect(accessDuring(history, 0, 1000, 'admins').map((g) => g.personId)).toEqual(['ada']);
  });
});

describe('access carried forward by retention', () => {
  it('keeps since-when of the account and of each group from before the cut', () => {
    const history = [
      s('ada', 100, 'ACTIVE', ['staff'], 1),
      s('ada', 200, 'ACTIVE', ['staff', 'admins'], 2),
      s('ada', 300, 'ACTIVE', ['admins'], 3),
    ];
    const kept = carryForward(history);
    expect(kept).toMatchObject({ version: 3, state: 'ACTIVE', groups: ['admins'], carried: { activeSince: 100, groupSince: { admins: 200 } } });
    expect(accessDuring([kept], 400).map((g) => [g.since, g.evidence.version])).toEqual([[100, 3]]);
    expect(accessDuring([kept], 400, 400, 'admins').map((g) => g.since)).toEqual([200]);
    expect(accessDuring([kept], 400, 400, 'staff')).toEqual([]);
    expect(carryForward([...history, s('ada', 350, 'DISABLED', [], 4)]).carried).toEqual({ activeSince: null, groupSince: {} });
  });

  it('answers every question at or after the cut as the full history does', () => {
    const state = fc.record({ active: fc.boolean(), groups: fc.subarray(['staff', 'admins', 'ops']) });
    fc.assert(
      fc.property(fc.array(state, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat(40), fc.nat(40), fc.constantFrom(undefined, 'staff', 'admins', 'ops'), (steps, cutSeed, atOffset, span, entitlement) => {
        const history = steps.map((x, i) => s('ada', 100 + i * 10, x.active ? 'ACTIVE' : 'DISABLED', x.active ? x.groups : [], i + 1));
        const cut = 1 + (cutSeed % history.length);
        // Retention may run more than once: carry the first half of the prefix, then the rest.
        const half = Math.ceil(cut / 2);
        const kept = carryForward([carryForward(history.slice(0, half)), ...history.slice(half, cut)]);
        const rest = [kept, ...history.slice(cut)];
        const at = history[cut - 1]!.appliedAt + atOffset;
        expect(accessDuring(rest, at, at + span, entitlement)).toEqual(accessDuring(history, at, at + span, entitlement));
      }),
      { numRuns: 500 },
    );
  });
});
