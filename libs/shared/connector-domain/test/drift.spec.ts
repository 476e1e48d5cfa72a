import { describe, expect, it } from '@jest/globals';
import { DriftDetector, type DesiredAccount, type TargetAccount } from '../src/index.js';

const d = (personId: string, over: Partial<DesiredAccount> = {}): DesiredAccount => ({
  personId, target: 't', version: 1, state: 'ACTIVE', accountName: personId, attributes: { mail: `${personId}@x` }, groups: ['g'], ...over,
});
const a = (name: string, owner: string | null, over: Partial<TargetAccount> = {}): TargetAccount => ({
  ref: `ref-${name}`, name, owner, enabled: true, attributes: { mail: `${name}@x` }, groups: ['g'], ...over,
});

describe('DriftDetector', () => {
  it('reports every kind of drift and nothing for accounts that match', () => {
    const det = new DriftDetector([d('ok'), d('attr'), d('off', { state: 'DISABLED' }), d('grp', { groups: ['g', 'h'] }), d('gone', { state: 'ABSENT' }), d('missing')], {});
    const found = [
      a('ok', 'ok'),
      a('attr', 'attr', { attributes: { mail: 'wrong' } }),
      a('off', 'off'),
      a('grp', 'grp'),
      a('gone', 'gone'),
      a('orphan', 'nobody-known'),
      a('foreign', null),
    ].flatMap((x) => det.observe(x));
    found.push(...det.finish());
    expect(found.map((f) => [f.kind, f.personId, f.details])).toEqual([
      ['WRONG_ATTRIBUTES', 'attr', ['mail']],
      ['WRONG_STATE', 'off', ['enabled']],
      ['WRONG_MEMBERSHIPS', 'grp', ['+h']],
      ['UNEXPECTED', 'gone', []],
      ['ORPHAN', 'nobody-known', ['no desired state']],
      ['UNMANAGED', null, []],
      ['MISSING', 'missing', []],
    ]);
    expect(det.accountsSeen).toBe(7);
  });

  it('matches an unmarked account by name and reports it unmanaged, not missing', () => {
    const det = new DriftDetector([d('p1', { accountName: 'ada' })], {});
    expect(det.observe(a('ada', null))).toEqual([{ kind: 'UNMANAGED', personId: 'p1', accountName: 'ada', accountRef: 'ref-ada', details: ['owner'] }]);
    expect(det.finish()).toEqual([]);
  });
});
