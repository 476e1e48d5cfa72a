import { describe, expect, it } from '@jest/globals';
import { accessDuring, type AppliedState } from '../src/index.js';

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
