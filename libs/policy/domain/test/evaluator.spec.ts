import { describe, expect, it } from '@jest/globals';
import { applyLifecycleEvent, evaluate, uniqueCandidate, type Evaluation, type TargetMemory } from '../src/index.js';
import { attrs, DAY, input, NOW, person, POLICY_YAML, testPolicy } from './fixtures.js';

const policy = testPolicy();
const target = (e: Evaluation, id: string) => e.targets.find((t) => t.target === id)!;
const memoryOf = (e: Evaluation, version = 1): Record<string, TargetMemory> =>
  Object.fromEntries(e.targets.filter((t) => t.desired).map((t) => [t.target, { version, desired: t.desired, ...t.memory }]));

describe('evaluating a person', () => {
  it('grants birthright roles with nesting and maps attributes', () => {
    const e = evaluate(policy, input(person({ department: 'Engineering', givenName: 'Zoë', familyName: 'Ångström' })));
    expect(e.phase).toBe('ACTIVE');
    expect(e.roles.map((r) => r.id).sort()).toEqual(['eng', 'staff']);
    expect(target(e, 'dir').desired).toEqual({
      target: 'dir',
      targetKind: 'ldap',
      state: 'ACTIVE',
      accountName: 'zangstro',
      groups: ['eng', 'staff'],
      attributes: { cn: 'Zoë Ångström', mail: 'zangstro@example.com' },
    });
    expect(target(e, 'db').desired).toMatchObject({ state: 'ACTIVE', accountName: 'jdoe', groups: ['readonly'] });
    expect(e.allocations).toEqual([{ namespace: 'uid', target: 'dir', attribute: 'accountName', base: 'zangstro', maxLength: 8, reserved: [] }]);
  });

  it('uses an allocated unique value once there is one', () => {
    const e = evaluate(policy, input(person(), { allocations: { uid: 'jdoe2' } }));
    expect(target(e, 'dir').desired).toMatchObject({ accountName: 'jdoe2', attributes: { mail: 'jdoe2@example.com' } });
    expect(e.allocations).toEqual([]);
    expect(['jdoe', 'jdoe2', 'jdoe10'].map((_, i) => uniqueCandidate('jdoe', [1, 2, 10][i]!, 5))).toEqual(['jdoe', 'jdoe2', 'jdo10']);
  });

  it('scopes targets: out of scope means no account', () => {
    const e = evaluate(policy, input(person({ workerType: 'intern' })));
    expect(target(e, 'dir')).toMatchObject({ inScope: false, desired: null, reason: 'out of scope' });
    expect(target(e, 'db').desired).not.toBeNull();
  });

  it('pre-hire: nothing before the lead time, disabled within it, enabled on the start date', () => {
    const start = NOW + 10 * DAY;
    const p = person({ status: 'pre-hire' }, { startAt: start });
    const early = evaluate(policy, input(p));
    expect(early.phase).toBe('PRE_HIRE');
    expect(target(early, 'db').desired).toBeNull();
    expect(early.nextEvaluationAt).toBe(start - 7 * DAY);
    const lead = evaluate(policy, input(p, { now: start - 7 * DAY }));
    expect(target(lead, 'db').desired).toMatchObject({ state: 'DISABLED' });
    expect(lead.nextEvaluationAt).toBe(start);
    const started = evaluate(policy, input({ ...p, attributes: attrs({ status: 'pre-hire' }) }, { now: start }));
    expect(target(started, 'db').desired).toMatchObject({ state: 'ACTIVE' });
  });

  it('mover: adds new access at once and removes old access after the grace period', () => {
    const before = evaluate(policy, input(person({ department: 'Sales' })));
    const previous = memoryOf(before);
    const moved = evaluate(policy, input(person({ department: 'Engineering' }), { trigger: 'MOVER', previous }));
    expect(target(moved, 'dir').desired!.groups).toEqual(['eng', 'sales', 'staff']);
    expect(target(moved, 'dir').memory.retained).toEqual({ sales: NOW + 7 * DAY });
    expect(moved.nextEvaluationAt).toBe(NOW + 7 * DAY);
    const later = evaluate(policy, input(person({ department: 'Engineering' }), { now: NOW + 7 * DAY, previous: memoryOf(moved, 2) }));
    expect(target(later, 'dir').desired!.groups).toEqual(['eng', 'staff']);
    // An UPDATE (not a move) removes at once.
    const updated = evaluate(policy, input(person({ department: 'Engineering' }), { trigger: 'UPDATE', previous }));
    expect(target(updated, 'dir').desired!.groups).toEqual(['eng', 'staff']);
  });

  it('leaver: disabled at once without memberships, deleted after the retention', () => {
    const active = evaluate(policy, input(person()));
    const left = person({ status: 'terminated' }, { terminatedAt: NOW });
    const e = evaluate(policy, input(left, { previous: memoryOf(active) }));
    expect(e.phase).toBe('TERMINATED');
    expect(target(e, 'dir').desired).toMatchObject({ state: 'DISABLED', groups: [] });
    expect(e.nextEvaluationAt).toBe(NOW + 30 * DAY);
    const gone = evaluate(policy, input(left, { now: NOW + 30 * DAY, previous: memoryOf(e, 2) }));
    expect(target(gone, 'dir').desired).toEqual({ target: 'dir', targetKind: 'ldap', state: 'ABSENT', accountName: 'jdoe', attributes: {}, groups: [] });
    // A leaver who never had an account gets none.
    expect(target(evaluate(policy, input(left)), 'dir').desired).toBeNull();
  });

  it('leave of absence suspends, rehire restores birthright access', () => {
    const active = evaluate(policy, input(person()));
    const leave = evaluate(policy, input(person({ status: 'leave' }), { previous: memoryOf(active) }));
    expect(target(leave, 'dir').desired).toMatchObject({ state: 'DISABLED', groups: ['sales', 'staff'] });
    let r = applyLifecycleEvent(person(), {
      kind: 'LEAVER',
      stage: 'EFFECTIVE',
      personId: 'p-1',
      effectiveAt: NOW - 40 * DAY,
      recordedAt: NOW - 40 * DAY,
      attributes: attrs({ status: 'terminated' }),
    })!;
    const deleted = evaluate(policy, input(r, { previous: memoryOf(active) }));
    expect(target(deleted, 'dir').desired!.state).toBe('ABSENT');
    r = applyLifecycleEvent(r, { kind: 'REHIRE', stage: 'EFFECTIVE', personId: 'p-1', effectiveAt: NOW, recordedAt: NOW, attributes: attrs() })!;
    const back = evaluate(policy, input(r, { previous: memoryOf(deleted, 3), allocations: { uid: 'jdoe' } }));
    expect(target(back, 'dir').desired).toMatchObject({ state: 'ACTIVE', accountName: 'jdoe', groups: ['sales', 'staff'] });
  });

  it('losing the entitlement while employed disables, then deletes after the retention', () => {
    const active = evaluate(policy, input(person()));
    const lost = evaluate(policy, input(person({ workerType: 'intern' }), { previous: memoryOf(active) }));
    expect(target(lost, 'dir').desired).toMatchObject({ state: 'DISABLED', groups: [] });
    expect(target(lost, 'dir').memory.lostAt).toBe(NOW);
    const later = evaluate(policy, input(person({ workerType: 'intern' }), { now: NOW + 10 * DAY, previous: memoryOf(lost, 2) }));
    expect(target(later, 'dir').desired!.state).toBe('ABSENT');
  });

  it('segregation of duties: prevents the new conflicting grant, honours exceptions', () => {
    const maker = evaluate(policy, input(person({ jobTitle: 'Clerk' })));
    const both = person({ jobTitle: 'Clerk', custom: { approver: 'yes' } }, { heldRoles: maker.roles.map((r) => r.id) });
    const e = evaluate(policy, input(both, { previous: memoryOf(maker) }));
    expect(e.violations).toEqual([
      {
        ruleId: 'maker-checker',
        mode: 'prevent',
        status: 'PREVENTED',
        conflicting: ['role:maker', 'role:approver'],
        dropped: ['role:approver'],
        exceptionId: null,
      },
    ]);
    expect(target(e, 'dir').desired!.groups).toEqual(['pay-create', 'sales', 'staff']);
    const excepted = evaluate(policy, input(both, { exceptions: [{ id: 'x1', ruleId: 'maker-checker', expiresAt: NOW + DAY }] }));
    expect(excepted.violations[0]).toMatchObject({ status: 'EXCEPTED', exceptionId: 'x1' });
    expect(target(excepted, 'dir').desired!.groups).toContain('pay-approve');
    expect(excepted.nextEvaluationAt).toBe(NOW + DAY);
  });

  it('manual assignments grant roles or groups until they expire', () => {
    const manual = [
      { id: 'm1', role: 'eng', target: null, group: null, expiresAt: NOW + 2 * DAY },
      { id: 'm2', role: null, target: 'dir', group: 'vpn', expiresAt: null },
      { id: 'm3', role: 'maker', target: null, group: null, expiresAt: NOW - 1 },
    ];
    const e = evaluate(policy, input(person(), { manual, explain: true }));
    expect(target(e, 'dir').desired!.groups).toEqual(['eng', 'sales', 'staff', 'vpn']);
    expect(target(e, 'dir').groups!.find((g) => g.name === 'vpn')!.sources).toEqual([{ kind: 'manual', assignment: 'm2', role: null, path: [] }]);
    expect(e.expiredAssignments).toEqual(['m3']);
    expect(e.nextEvaluationAt).toBe(NOW + 2 * DAY);
    const left = evaluate(policy, input(person({ status: 'terminated' }, { terminatedAt: NOW }), { manual }));
    expect(left.revokedAssignments).toEqual(['m1', 'm2']);
  });

  it('explains: rules, group sources with role paths, attribute facts', () => {
    const e = evaluate(policy, input(person({ department: 'Engineering' }), { explain: true }));
    expect(e.rules!.find((r) => r.id === 'eng')).toMatchObject({ matched: true });
    const staff = target(e, 'dir').groups!.find((g) => g.name === 'staff')!;
    expect(staff.sources).toEqual(
      expect.arrayContaining([
        { kind: 'birthright', rule: 'eng', role: 'eng', path: ['eng', 'staff'] },
        { kind: 'birthright', rule: 'all', role: 'staff', path: ['staff'] },
      ]),
    );
    expect(target(e, 'dir').attributes!.find((a) => a.name === 'cn')).toEqual({
      name: 'cn',
      value: 'John Doe',
      expression: "join(' ', givenName, familyName)",
      facts: { givenName: 'John', familyName: 'Doe' },
      unique: null,
    });
  });

  it('a target removed from the policy: its accounts are disabled without memberships, deleted after the unentitled retention; a leaver never re-enables them', () => {
    const withDir = evaluate(policy, input(person(), { allocations: { uid: 'jdoe' } }));
    const previous = memoryOf(withDir);
    // The same policy without the dir target (and the groups its roles granted there).
    const withoutDir = testPolicy(
      POLICY_YAML.replace(/ {2}- id: dir\n[\s\S]*?(?= {2}- id: db\n)/, '')
        .replace(/dir: \{ groups: \[[^\]]*\] \}, ?/g, '')
        .replace(/entitlements: \{ dir: \{ groups: \[[^\]]*\] \} \}/g, 'entitlements: {}'),
    );
    expect(withoutDir.targetById.has('dir')).toBe(false);
    const e = evaluate(withoutDir, input(person(), { previous }));
    const dir = target(e, 'dir');
    expect(dir).toMatchObject({ removed: true, inScope: false, kind: 'ldap' });
    expect(dir.reason).toBe('target removed from the policy; no longer in scope: account disabled, memberships removed');
    expect(dir.desired).toEqual({ ...previous['dir']!.desired, state: 'DISABLED', groups: [] });
    expect(dir.memory.lostAt).toBe(NOW);
    expect(e.actions).toEqual(expect.arrayContaining([{ at: NOW + 10 * DAY, action: 'delete', target: 'dir' }]));
    const disabled = memoryOf(e);
    expect(target(evaluate(withoutDir, input(person(), { previous: disabled, now: NOW + 10 * DAY })), 'dir').desired).toMatchObject({ state: 'ABSENT' });
    // A leaver afterwards: still disabled (deleted after the leaver retention), never active again.
    const leaver = evaluate(withoutDir, input(person({ status: 'terminated' }, { terminatedAt: NOW + DAY }), { previous: disabled, now: NOW + DAY }));
    expect(target(leaver, 'dir').desired).toMatchObject({ state: 'DISABLED', groups: [] });
    // Once deleted, a removed target is no longer evaluated.
    const gone = memoryOf(evaluate(withoutDir, input(person(), { previous: disabled, now: NOW + 10 * DAY })));
    expect(evaluate(withoutDir, input(person(), { previous: gone, now: NOW + 11 * DAY })).targets.map((t) => t.target)).toEqual(['db']);
  });

  it('ignores replayed (older) lifecycle events', () => {
    const r = applyLifecycleEvent(undefined, { kind: 'JOINER', stage: 'EFFECTIVE', personId: 'p-1', effectiveAt: NOW, recordedAt: NOW, attributes: attrs() })!;
    expect(
      applyLifecycleEvent(r, {
        kind: 'LEAVER',
        stage: 'EFFECTIVE',
        personId: 'p-1',
        effectiveAt: NOW - 1,
        recordedAt: NOW - 1,
        attributes: attrs({ status: 'terminated' }),
      }),
    ).toBeUndefined();
  });
});
