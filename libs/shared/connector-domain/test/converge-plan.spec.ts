import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ConnectorError, ConnectorErrorCode, planConvergence, valuesEqual, type DesiredAccount, type TargetAccount } from '../src/index.js';

const desired = (over: Partial<DesiredAccount> = {}): DesiredAccount => ({
  personId: 'p1', target: 't', version: 1, state: 'ACTIVE', accountName: 'ada', attributes: { mail: 'ada@example.com', title: null }, groups: ['devs'], ...over,
});
const account = (over: Partial<TargetAccount> = {}): TargetAccount => ({
  ref: 'r1', name: 'ada', owner: 'p1', enabled: true, attributes: { mail: 'ada@example.com' }, groups: ['devs'], ...over,
});

describe('planConvergence', () => {
  it('creates a missing account and then adds its memberships', () => {
    expect(planConvergence(desired({ groups: ['a', 'b'] }), null)).toEqual([{ type: 'CREATE' }, { type: 'ADD_MEMBERSHIP', group: 'a' }, { type: 'ADD_MEMBERSHIP', group: 'b' }]);
  });

  it('plans nothing when the target already matches (duplicates and replays are harmless)', () => {
    expect(planConvergence(desired(), account())).toEqual([]);
    expect(planConvergence(desired({ state: 'ABSENT' }), null)).toEqual([]);
  });

  it('writes only the differing attributes; null removes; unmanaged attributes are left alone', () => {
    const steps = planConvergence(desired({ attributes: { mail: 'new@example.com', title: null, sn: 'L' } }), account({ attributes: { mail: 'ada@example.com', title: 'Eng', sn: 'L', other: 'x' } }));
    expect(steps).toEqual([{ type: 'UPDATE', attributes: { mail: 'new@example.com', title: null } }]);
  });

  it('sets write-only attributes (passwords) at creation only: never compared, never rewritten', () => {
    const writeOnlyAttributes = (name: string) => name.toLowerCase() === 'password';
    const withPassword = desired({ attributes: { mail: 'ada@example.com', password: 'Initial-1' } });
    expect(planConvergence(withPassword, account(), { writeOnlyAttributes })).toEqual([]);
    expect(planConvergence(desired({ attributes: { mail: 'new@example.com', Password: 'x' } }), account(), { writeOnlyAttributes })).toEqual([{ type: 'UPDATE', attributes: { mail: 'new@example.com' } }]);
    expect(planConvergence(withPassword, null, { writeOnlyAttributes })[0]).toEqual({ type: 'CREATE' });
    // Without the option the password is a difference on every command.
    expect(planConvergence(withPassword, account())).toEqual([{ type: 'UPDATE', attributes: { password: 'Initial-1' } }]);
  });

  it('renames before updating, then enables, then fixes memberships', () => {
    const steps = planConvergence(desired({ accountName: 'ada2', groups: ['ops'], attributes: { mail: 'm' } }), account({ enabled: false, attributes: { mail: 'x' }, groups: ['devs'] }));
    expect(steps.map((s) => s.type)).toEqual(['RENAME', 'UPDATE', 'ENABLE', 'REMOVE_MEMBERSHIP', 'ADD_MEMBERSHIP']);
  });

  it("puts a leaver's deprovisioning first: membership removals and DISABLE before any rename or attribute update", () => {
    const steps = planConvergence(desired({ accountName: 'ada2', state: 'DISABLED', groups: ['ops'], attributes: { mail: 'm' } }), account({ attributes: { mail: 'x' }, groups: ['devs'] }));
    expect(steps.map((s) => s.type)).toEqual(['REMOVE_MEMBERSHIP', 'DISABLE', 'RENAME', 'UPDATE', 'ADD_MEMBERSHIP']);
    // Adopting an unowned account claims it first: nothing is disabled on an account that is not (yet) ours.
    const adopted = planConvergence(desired({ state: 'DISABLED', attributes: { mail: 'm' } }), account({ owner: null, groups: [] }), { adoptUnowned: true });
    expect(adopted.map((s) => s.type)).toEqual(['CLAIM', 'UPDATE', 'DISABLE', 'ADD_MEMBERSHIP']);
  });

  it('a disabled account with sessions still open (openSessions) is not disabled yet: a leaver disables it again, a rehire enables it', () => {
    const lingering = account({ enabled: false, openSessions: true });
    expect(planConvergence(desired({ state: 'DISABLED' }), lingering)).toEqual([{ type: 'DISABLE' }]);
    expect(planConvergence(desired({ state: 'DISABLED' }), account({ enabled: false }))).toEqual([]);
    expect(planConvergence(desired(), lingering)).toEqual([{ type: 'ENABLE' }]);
    expect(planConvergence(desired({ state: 'ABSENT' }), lingering)).toEqual([{ type: 'DELETE' }]);
  });

  it('deletes an owned account for ABSENT and never touches an account of someone else', () => {
    expect(planConvergence(desired({ state: 'ABSENT' }), account())).toEqual([{ type: 'DELETE' }]);
    expect(planConvergence(desired({ state: 'ABSENT' }), account({ owner: 'p2' }))).toEqual([]);
    expect(planConvergence(desired({ state: 'ABSENT' }), account({ owner: null }))).toEqual([]);
  });

  it('refuses another person\'s account and unowned accounts unless adoption is on', () => {
    expect(() => planConvergence(desired(), account({ owner: 'p2' }))).toThrow(ConnectorError);
    try {
      planConvergence(desired(), account({ owner: null }));
      throw new Error('expected a refusal');
    } catch (e) {
      expect((e as ConnectorError).code).toBe(ConnectorErrorCode.NotManaged);
      expect((e as ConnectorError).retriable).toBe(false);
    }
    expect(planConvergence(desired(), account({ owner: null }), { adoptUnowned: true })).toEqual([{ type: 'CLAIM' }]);
  });

  it('removes unlisted memberships only in managed groups, and only when configured', () => {
    const cur = account({ groups: ['devs', 'app-x', 'foreign'] });
    const managed = (g: string) => g.startsWith('app-') || g === 'devs';
    expect(planConvergence(desired({ groups: [] }), cur, { isManagedGroup: managed })).toEqual([
      { type: 'REMOVE_MEMBERSHIP', group: 'devs' },
      { type: 'REMOVE_MEMBERSHIP', group: 'app-x' },
    ]);
    expect(planConvergence(desired({ groups: [] }), cur, { removeUnlistedGroups: false })).toEqual([]);
  });

  it('compares group names case-insensitively when the target does (LDAP DNs)', () => {
    expect(planConvergence(desired({ groups: ['CN=Devs,OU=G'] }), account({ groups: ['cn=devs,ou=g'] }), { groupsCaseInsensitive: true })).toEqual([]);
  });

  it('compares values canonically: arrays as sets, booleans and numbers as text', () => {
    expect(valuesEqual(['b', 'a'], ['a', 'b', 'a'])).toBe(true);
    expect(valuesEqual(true, 'TRUE')).toBe(true);
    expect(valuesEqual(42, '42')).toBe(true);
    expect(valuesEqual(null, '')).toBe(true);
    expect(valuesEqual(null, [])).toBe(true);
    expect(valuesEqual('a', ['a'])).toBe(true);
    expect(valuesEqual('A', 'a')).toBe(false);
    expect(valuesEqual('A', 'a', true)).toBe(true);
  });

  it('is idempotent: applying a plan to a model of the account leaves nothing to do', () => {
    const attr = fc.oneof(fc.constant(null), fc.string({ maxLength: 3 }), fc.array(fc.string({ maxLength: 2 }), { maxLength: 3 }));
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('a', 'b', 'c'), attr),
        fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), attr),
        fc.uniqueArray(fc.constantFrom('g1', 'g2', 'g3')),
        fc.uniqueArray(fc.constantFrom('g1', 'g2', 'g3')),
        fc.constantFrom<DesiredAccount['state']>('ACTIVE', 'DISABLED'),
        fc.boolean(),
        (want, have, wantGroups, haveGroups, state, enabled) => {
          const d = desired({ attributes: want, groups: wantGroups, state });
          const acc = account({ attributes: { ...have }, groups: [...haveGroups], enabled });
          for (const step of planConvergence(d, acc)) {
            if (step.type === 'UPDATE') Object.assign(acc.attributes, step.attributes);
            if (step.type === 'ENABLE') acc.enabled = true;
            if (step.type === 'DISABLE') acc.enabled = false;
            if (step.type === 'ADD_MEMBERSHIP') acc.groups.push(step.group);
            if (step.type === 'REMOVE_MEMBERSHIP') acc.groups = acc.groups.filter((g) => g !== step.group);
          }
          expect(planConvergence(d, acc)).toEqual([]);
        },
      ),
    );
  });
});

describe('planConvergence: moves and attribute name case', () => {
  const at = (ou: string) => `uid=ada,ou=${ou},dc=x`;
  it('plans a rename when the account lives somewhere else than the desired state says (LDAP move)', () => {
    const o = { locationOf: (d: DesiredAccount) => at(String(d.attributes['ou'] ?? 'people')), sameLocation: (a: string, b: string) => a.toLowerCase() === b.toLowerCase() };
    const cur = account({ location: at('Sales'), attributes: { ou: 'sales' } });
    expect(planConvergence(desired({ attributes: { ou: 'sales' } }), cur, o)).toEqual([]);
    expect(planConvergence(desired({ attributes: { ou: 'eng' } }), cur, o)).toEqual([{ type: 'RENAME', to: 'ada' }, { type: 'UPDATE', attributes: { ou: 'eng' } }]);
  });

  it('matches attribute names case-insensitively when the target does', () => {
    const cur = account({ attributes: { Mail: 'ada@example.com' } });
    expect(planConvergence(desired({ attributes: { mail: 'ada@example.com' } }), cur, { caseInsensitiveAttributeNames: true })).toEqual([]);
    expect(planConvergence(desired({ attributes: { mail: 'ada@example.com' } }), cur)).toEqual([{ type: 'UPDATE', attributes: { mail: 'ada@example.com' } }]);
  });
});
