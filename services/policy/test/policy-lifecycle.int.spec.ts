import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { lifecycleEvent as event, waitFor } from '@provisio/testing';
import { startPolicyService, type PolicyService } from './policy-service-kit.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const POLICY = `apiVersion: provisio.dev/v1
kind: Policy
metadata: { name: lifecycle-it }
lifecycle:
  preHire: { leadTime: 3d }
  mover: { gracePeriod: 1h }
  conversion: { gracePeriod: 2d }
  leaver: { retention: 30d }
targets:
  - id: db
    kind: postgres
    account: { name: lower(userName) }
  - id: dir
    kind: ldap
    scope: { attribute: workerType, in: [employee, contractor] }
    lifecycle: { leaveOfAbsence: { action: suspendAndRemoveMemberships } }
    account: { name: lower(userName) }
  - id: app
    kind: scim
    scope: { attribute: workerType, equals: employee }
    lifecycle: { leaveOfAbsence: { action: keep } }
    account: { name: lower(userName) }
roles:
  - id: staff
    entitlements: { db: { groups: [staff] }, dir: { groups: [staff] }, app: { groups: [users] } }
  - id: employees
    entitlements: { dir: { groups: [employees] } }
  - id: contractors
    entitlements: { dir: { groups: [contractors] } }
  - id: app-admin
    entitlements: { app: { groups: [admins] } }
  - id: maker
    entitlements: { dir: { groups: [pay-create] } }
  - id: approver
    entitlements: { dir: { groups: [pay-approve] } }
  - id: trader
    entitlements: { dir: { groups: [trade] } }
  - id: auditor
    entitlements: { dir: { groups: [audit] } }
birthright:
  - { id: all, when: { attribute: userName, exists: true }, grant: [staff] }
  - { id: employees, when: { attribute: workerType, equals: employee }, grant: [employees] }
  - { id: contractors, when: { attribute: workerType, equals: contractor }, grant: [contractors] }
  - { id: makers, when: { attribute: jobTitle, equals: Clerk }, grant: [maker] }
  - { id: approvers, when: { attribute: custom.approver, equals: "yes" }, grant: [approver] }
  - { id: traders, when: { attribute: jobTitle, equals: Trader }, grant: [trader] }
  - { id: auditors, when: { attribute: custom.auditor, equals: "yes" }, grant: [auditor] }
sod:
  - id: maker-checker
    mode: prevent
    sets: [[{ role: maker }], [{ role: approver }]]
  - id: trade-audit
    mode: flag
    sets: [[{ role: trader }], [{ role: auditor }]]
`;

/**
 * Lifecycle rules and timed work through the real broker, PostgreSQL and the engine's scheduler:
 * leave of absence variants, conversion grace, pre-hire, retention deletes, SoD flag mode and
 * exception expiry, results, lock contention, manual assignments and scoping. Timed work runs
 * with the scheduler's runDue(at) at the instant it is due; tests go forward in time in order.
 */
describe('policy lifecycle and timed work on the real broker', () => {
  let s: PolicyService;

  beforeAll(async () => {
    s = await startPolicyService('policylc', POLICY);
  }, 120_000);

  afterAll(async () => {
    await s?.close();
  });

  const joiner = (personId: string, a: Parameters<typeof event>[2] = {}) => event(personId, 'JOINER', { userName: `${personId}@x`, ...a });

  it('leave of absence per target: suspend keeps memberships, suspendAndRemoveMemberships removes them, keep changes nothing; returning restores', async () => {
    const base = { userName: 'p-leave@x' };
    const t0 = Date.now();
    await s.send(event('p-leave', 'JOINER', base, t0));
    await waitFor(async () => s.commandsFor('p-leave').length === 3, { what: 'joiner commands' });
    await s.send(event('p-leave', 'UPDATE', { ...base, status: 'leave' }, t0 + 1));
    await waitFor(async () => s.commandsFor('p-leave', 'db').length === 2 && s.commandsFor('p-leave', 'dir').length === 2, { what: 'leave commands' });
    expect(s.commandsFor('p-leave', 'db')[1]).toMatchObject({ state: 'DISABLED', groups: ['staff'] });
    expect(s.commandsFor('p-leave', 'dir')[1]).toMatchObject({ state: 'DISABLED', groups: [] });
    // app (keep) was decided in the same transaction: still version 1, active.
    expect((await s.targetRows('p-leave')).find((r) => r.target === 'app')).toMatchObject({ version: 1, state: 'ACTIVE' });
    const explain = await s.api('GET', '/v1/persons/p-leave/explain');
    const reasons = Object.fromEntries((explain.body['targets'] as unknown as { target: string; reason: string }[]).map((t) => [t.target, t.reason]));
    expect(reasons).toEqual({
      db: 'on leave: account suspended',
      dir: 'on leave: account suspended, memberships removed',
      app: 'on leave: access kept',
    });
    await s.send(event('p-leave', 'UPDATE', base, t0 + 2));
    await waitFor(async () => s.commandsFor('p-leave', 'db').length === 3 && s.commandsFor('p-leave', 'dir').length === 3, { what: 'return commands' });
    expect(s.commandsFor('p-leave', 'db')[2]).toMatchObject({ state: 'ACTIVE', groups: ['staff'] });
    expect(s.commandsFor('p-leave', 'dir')[2]).toMatchObject({ state: 'ACTIVE', groups: ['employees', 'staff'] });
    expect(s.commandsFor('p-leave', 'app')).toHaveLength(1);
  });

  it('records what targets report: applied version, status and last error per person × target', async () => {
    const result = (target: string, version: number, status: 'APPLIED' | 'FAILED', at: number) => ({
      resultId: randomUUID(),
      commandId: randomUUID(),
      personId: 'p-leave',
      target,
      targetKind: target === 'db' ? 'postgres' : 'ldap',
      version,
      status,
      operations: [],
      accountRef: null,
      error: status === 'FAILED' ? { code: 'TARGET_DOWN', message: 'directory unreachable', retriable: true } : null,
      hrEffectiveAt: null,
      appliedAt: at,
    });
    const at = Date.now();
    await s.sendResult(result('db', 3, 'APPLIED', at));
    await s.sendResult(result('dir', 2, 'APPLIED', at));
    await waitFor(async () => (await s.targetRows('p-leave')).find((r) => r.target === 'dir')?.applied_version === 2, { what: 'dir applied' });
    await s.sendResult(result('dir', 3, 'FAILED', at + 1));
    await waitFor(async () => (await s.targetRows('p-leave')).find((r) => r.target === 'dir')?.last_status === 'FAILED', { what: 'results recorded' });
    const rows = await s.targetRows('p-leave');
    expect(rows.find((r) => r.target === 'db')).toMatchObject({ applied_version: 3, last_status: 'APPLIED', last_error: null });
    expect(rows.find((r) => r.target === 'dir')).toMatchObject({ applied_version: 2, last_status: 'FAILED', last_error: 'TARGET_DOWN: directory unreachable' });
    const explain = await s.api('GET', '/v1/persons/p-leave/explain');
    const dir = (explain.body['targets'] as unknown as { target: string; lastCommand: unknown; applied: unknown }[]).find((t) => t.target === 'dir')!;
    expect(dir).toMatchObject({ lastCommand: { version: 3, state: 'ACTIVE' }, applied: { version: 2, status: 'FAILED', error: 'TARGET_DOWN: directory unreachable' } });
  });

  it('SoD flag mode: the conflict is allowed and flagged with a violation event', async () => {
    await s.send(joiner('p-flag', { jobTitle: 'Trader', custom: { auditor: 'yes' } }));
    await waitFor(async () => s.violations.some((v) => v.personId === 'p-flag'), { what: 'flag violation' });
    expect(s.violations.find((v) => v.personId === 'p-flag')).toMatchObject({
      ruleId: 'trade-audit',
      mode: 'FLAG',
      status: 'FLAGGED',
      conflicting: ['role:trader', 'role:auditor'],
      dropped: [],
    });
    await waitFor(async () => s.commandsFor('p-flag', 'dir').length === 1, { what: 'dir command' });
    expect(s.commandsFor('p-flag', 'dir')[0]!.groups).toEqual(['audit', 'employees', 'staff', 'trade']);
  });

  it('an SoD exception expires through the scheduler: the conflicting grant goes again at the expiry time', async () => {
    await s.send(joiner('p-exc', { jobTitle: 'Clerk' }));
    await waitFor(async () => s.commandsFor('p-exc', 'dir').length === 1, { what: 'maker' });
    await s.send(event('p-exc', 'UPDATE', { userName: 'p-exc@x', jobTitle: 'Clerk', custom: { approver: 'yes' } }));
    await waitFor(async () => s.violations.some((v) => v.personId === 'p-exc' && v.status === 'PREVENTED'), { what: 'prevented' });
    const expiresAt = Date.now() + HOUR;
    const exception = await s.api('POST', '/v1/sod/exceptions', {
      personId: 'p-exc',
      ruleId: 'maker-checker',
      approver: 'cfo',
      reason: 'quarter close',
      expiresAt: new Date(expiresAt).toISOString(),
    });
    expect(exception.status).toBe(201);
    await waitFor(async () => s.commandsFor('p-exc', 'dir').length === 2, { what: 'excepted grant' });
    expect(s.commandsFor('p-exc', 'dir')[1]!.groups).toContain('pay-approve');
    expect((await s.pendingJob('p-exc'))!.due_at.getTime()).toBe(expiresAt);
    // Nothing is due yet; at the expiry the scheduler re-evaluates the person.
    await s.scheduler.runDue(new Date(expiresAt - 1000));
    expect(s.commandsFor('p-exc', 'dir')).toHaveLength(2);
    await s.scheduler.runDue(new Date(expiresAt + 1000));
    await waitFor(async () => s.commandsFor('p-exc', 'dir').length === 3, { what: 'exception expired' });
    expect(s.commandsFor('p-exc', 'dir')[2]).toMatchObject({ groups: ['employees', 'pay-create', 'staff'], cause: { reason: 'scheduled' }, hrEffectiveAt: expiresAt });
    await waitFor(async () => s.violations.filter((v) => v.personId === 'p-exc' && v.status === 'PREVENTED').length === 2, { what: 'prevented again' });
    expect(await s.db.query(`SELECT status, ended_by FROM policy.sod_exceptions WHERE person_id = 'p-exc'`)).toEqual([{ status: 'expired', ended_by: 'system:scheduler' }]);
  });

  it('a timed job that meets a locked person is deferred without using attempts, then runs with its original due time as hrEffectiveAt', async () => {
    await s.send(joiner('p-lock'));
    await waitFor(async () => s.commandsFor('p-lock', 'dir').length === 1, { what: 'joiner' });
    const expiresAt = Date.now() + 2 * HOUR;
    const granted = await s.api('POST', '/v1/persons/p-lock/assignments', { target: 'dir', group: 'vpn', reason: 'on call', expiresAt: new Date(expiresAt).toISOString() });
    expect(granted.status).toBe(201);
    await waitFor(async () => s.commandsFor('p-lock', 'dir').length === 2, { what: 'vpn granted' });
    const holder = await s.db.client();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM policy.persons WHERE person_id = 'p-lock' FOR UPDATE`);
      // Many passes (more than the scheduler's 10 attempts would allow for failures).
      for (let i = 0; i < 12; i++) await s.scheduler.runDue(new Date(expiresAt + 1000 + i * 60_000));
      expect(await s.pendingJob('p-lock')).toMatchObject({ attempts: 0, status: 'pending', due_at: new Date(expiresAt) });
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    await s.scheduler.runDue(new Date(expiresAt + 20 * 60_000));
    await waitFor(async () => s.commandsFor('p-lock', 'dir').length === 3, { what: 'vpn removed' });
    expect(s.commandsFor('p-lock', 'dir')[2]).toMatchObject({ groups: ['employees', 'staff'], cause: { reason: 'scheduled' }, hrEffectiveAt: expiresAt });
  });

  it('conversion uses its own grace period (not the mover one): old access stays 2 days, then goes with the scheduler', async () => {
    await s.send(joiner('p-conv', { workerType: 'contractor' }));
    await waitFor(async () => s.commandsFor('p-conv').length === 2, { what: 'contractor commands' });
    expect(s.commandsFor('p-conv', 'dir')[0]!.groups).toEqual(['contractors', 'staff']);
    const at = Date.now();
    await s.send(event('p-conv', 'CONVERSION', { userName: 'p-conv@x', workerType: 'employee' }, at));
    await waitFor(async () => s.commandsFor('p-conv', 'dir').length === 2 && s.commandsFor('p-conv', 'app').length === 1, { what: 'conversion commands' });
    expect(s.commandsFor('p-conv', 'dir')[1]).toMatchObject({ state: 'ACTIVE', groups: ['contractors', 'employees', 'staff'], hrEffectiveAt: at });
    const explain = await s.api('GET', '/v1/persons/p-conv/explain');
    const dir = (explain.body['targets'] as unknown as { target: string; graceUntil: Record<string, string> }[]).find((t) => t.target === 'dir')!;
    const until = Date.parse(dir.graceUntil['contractors']!);
    expect(until).toBeGreaterThanOrEqual(at + 2 * DAY);
    expect(until).toBeLessThan(Date.now() + 2 * DAY + 1);
    await s.scheduler.runDue(new Date(at + HOUR + 60_000));
    expect(s.commandsFor('p-conv', 'dir')).toHaveLength(2);
    await s.scheduler.runDue(new Date(until + 1000));
    await waitFor(async () => s.commandsFor('p-conv', 'dir').length === 3, { what: 'grace over' });
    expect(s.commandsFor('p-conv', 'dir')[2]).toMatchObject({ groups: ['employees', 'staff'], cause: { reason: 'scheduled' }, hrEffectiveAt: until });
  });

  it('pre-hire through engine and scheduler: nothing before the lead time, created disabled at start − 3d, enabled at the start', async () => {
    const start = Date.now() + 10 * DAY;
    const e = { ...joiner('p-pre', { status: 'pre-hire' }), stage: 'PRE_HIRE' as const, effectiveAt: start };
    await s.send(e);
    await waitFor(async () => (await s.appliedUpTo('p-pre')) === e.recordedAt, { what: 'pre-hire applied' });
    expect(await s.targetRows('p-pre')).toEqual([]);
    expect((await s.pendingJob('p-pre'))!.due_at.getTime()).toBe(start - 3 * DAY);
    await s.scheduler.runDue(new Date(start - 3 * DAY + 1000));
    await waitFor(async () => s.commandsFor('p-pre').length === 3, { what: 'created disabled' });
    for (const c of s.commandsFor('p-pre')) expect(c).toMatchObject({ version: 1, state: 'DISABLED', cause: { reason: 'scheduled' }, hrEffectiveAt: start - 3 * DAY });
    await s.scheduler.runDue(new Date(start + 1000));
    await waitFor(async () => s.commandsFor('p-pre').length === 6, { what: 'enabled' });
    for (const c of s.commandsFor('p-pre').slice(3)) expect(c).toMatchObject({ version: 2, state: 'ACTIVE', hrEffectiveAt: start });
  });

  it('leaver retention: disabled at once, deleted (ABSENT) by the scheduler after 30 days', async () => {
    await s.send(joiner('p-ret'));
    await waitFor(async () => s.commandsFor('p-ret').length === 3, { what: 'joiner' });
    const left = Date.now();
    await s.send(event('p-ret', 'LEAVER', { userName: 'p-ret@x', status: 'terminated' }, left));
    await waitFor(async () => s.commandsFor('p-ret').length === 6, { what: 'leaver' });
    for (const c of s.commandsFor('p-ret').slice(3)) expect(c).toMatchObject({ state: 'DISABLED', groups: [], hrEffectiveAt: left });
    expect((await s.pendingJob('p-ret'))!.due_at.getTime()).toBe(left + 30 * DAY);
    await s.scheduler.runDue(new Date(left + 29 * DAY));
    expect(s.commandsFor('p-ret')).toHaveLength(6);
    await s.scheduler.runDue(new Date(left + 30 * DAY + 1000));
    await waitFor(async () => s.commandsFor('p-ret').length === 9, { what: 'deleted' });
    for (const c of s.commandsFor('p-ret').slice(6)) expect(c).toMatchObject({ state: 'ABSENT', cause: { reason: 'scheduled' }, hrEffectiveAt: left + 30 * DAY });
  });

  it('a manual assignment that would provision nothing because of scoping is refused with 422 naming the target and the reason', async () => {
    await s.send(joiner('p-ctr', { workerType: 'contractor' }));
    await waitFor(async () => s.commandsFor('p-ctr').length === 2, { what: 'contractor' });
    const toTarget = await s.api('POST', '/v1/persons/p-ctr/assignments', { target: 'app', reason: 'needs the app' });
    expect(toTarget.status).toBe(422);
    expect(toTarget.body).toMatchObject({
      code: 'OUT_OF_SCOPE',
      message: expect.stringContaining(`target 'app': scope condition not met: workerType equals "employee" (is "contractor")`),
      details: { targets: [expect.objectContaining({ target: 'app', inScope: false })] },
    });
    const role = await s.api('POST', '/v1/persons/p-ctr/assignments', { role: 'app-admin', reason: 'admin of the app' });
    expect(role.status).toBe(422);
    expect(role.body['message']).toContain(`role 'app-admin' grants only on targets`);
    expect((await s.api('GET', '/v1/persons/p-ctr/assignments')).body).toEqual({ assignments: [] });
    // In scope for dir: granted and provisioned.
    expect((await s.api('POST', '/v1/persons/p-ctr/assignments', { target: 'dir', group: 'vpn', reason: 'on call' })).status).toBe(201);
    await waitFor(async () => s.commandsFor('p-ctr', 'dir').length === 2, { what: 'granted' });
    expect(s.commandsFor('p-ctr', 'dir')[1]!.groups).toContain('vpn');
  });
});
