import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { applyLifecycleEvent, canonicalJson, evaluate, sameDesired, type DesiredAccount, type LifecycleFacts, type PersonRecord, type TargetMemory } from '../src/index.js';
import { attrs, DAY, input, NOW, testPolicy } from './fixtures.js';

const policy = testPolicy();

const attributes = fc.record({
  workerType: fc.constantFrom('employee', 'contractor', 'intern', null),
  status: fc.constantFrom('active', 'leave', 'terminated', 'pre-hire'),
  department: fc.constantFrom('Sales', 'Engineering', 'HR', null),
  jobTitle: fc.constantFrom('Clerk', 'Engineer', null),
  givenName: fc.string({ maxLength: 8 }),
  familyName: fc.string({ minLength: 1, maxLength: 12 }),
  custom: fc.dictionary(fc.constantFrom('team', 'approver'), fc.constantFrom('eng-core', 'yes', 'no')),
});
const kind = fc.constantFrom('JOINER', 'MOVER', 'LEAVER', 'REHIRE', 'UPDATE', 'CONVERSION') as fc.Arbitrary<LifecycleFacts['kind']>;

/** Applies events to per-person state the way the engine does, returning the final desired states. */
function run(events: LifecycleFacts[]): Record<string, string> {
  const persons = new Map<string, { record: PersonRecord; memory: Record<string, TargetMemory> }>();
  for (const e of events) {
    const s = persons.get(e.personId);
    const record = applyLifecycleEvent(s?.record, e);
    if (!record) continue;
    const ev = evaluate(policy, input(record, { now: e.recordedAt, trigger: e.kind, previous: s?.memory ?? {}, allocations: { uid: `u-${e.personId}` } }));
    const memory = { ...(s?.memory ?? {}) };
    for (const t of ev.targets) if (t.desired) memory[t.target] = { version: (memory[t.target]?.version ?? 0) + 1, desired: t.desired, ...t.memory };
    persons.set(e.personId, { record: { ...record, heldRoles: ev.roles.map((r) => r.id) }, memory });
  }
  return Object.fromEntries([...persons].flatMap(([p, s]) => Object.values(s.memory).map((m) => [`${p}/${m.desired!.target}`, canonicalJson(m.desired!)])));
}

describe('evaluator properties', () => {
  it('is deterministic: the same input gives the same output', () => {
    fc.assert(
      fc.property(attributes, fc.integer({ min: -30, max: 30 }), (a, days) => {
        const p: PersonRecord = {
          personId: 'p',
          attributes: attrs(a),
          startAt: NOW + days * DAY,
          terminatedAt: null,
          lastKind: null,
          lastRecordedAt: null,
          heldRoles: [],
        };
        const once = evaluate(policy, input(p, { explain: true }));
        expect(evaluate(policy, input(p, { explain: true }))).toEqual(once);
      }),
    );
  });

  it('independent events (different people) in any order give the same final desired state', () => {
    const event = fc.record({ personId: fc.constantFrom('a', 'b', 'c', 'd'), kind, attributes });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 12 }), fc.integer(), (raw, seed) => {
        const events: LifecycleFacts[] = raw.map((e, i) => ({
          ...e,
          attributes: attrs(e.attributes),
          stage: 'EFFECTIVE',
          effectiveAt: NOW + i * 1000,
          recordedAt: NOW + i * 1000,
        }));
        // Shuffle across people while keeping each person's own order.
        const byPerson = new Map<string, LifecycleFacts[]>();
        for (const e of events) byPerson.set(e.personId, [...(byPerson.get(e.personId) ?? []), e]);
        const rng = fc.sample(fc.array(fc.nat(), { minLength: events.length, maxLength: events.length }), { seed, numRuns: 1 })[0]!;
        const shuffled: LifecycleFacts[] = [];
        const queues = [...byPerson.values()].map((q) => [...q]);
        for (let i = 0; queues.some((q) => q.length > 0); i++) {
          const open = queues.filter((q) => q.length > 0);
          shuffled.push(open[rng[i % rng.length]! % open.length]!.shift()!);
        }
        expect(run(shuffled)).toEqual(run(events));
      }),
    );
  });

  it('a no-op event (same facts again) changes no desired state', () => {
    fc.assert(
      fc.property(attributes, kind, (a, k) => {
        const e: LifecycleFacts = { personId: 'p', kind: k, stage: 'EFFECTIVE', effectiveAt: NOW, recordedAt: NOW, attributes: attrs(a) };
        const record = applyLifecycleEvent(undefined, e)!;
        const first = evaluate(policy, input(record, { trigger: k }));
        const memory = Object.fromEntries(first.targets.filter((t) => t.desired).map((t) => [t.target, { version: 1, desired: t.desired, ...t.memory }]));
        const again = applyLifecycleEvent({ ...record, heldRoles: first.roles.map((r) => r.id) }, { ...e, kind: 'UPDATE', recordedAt: NOW + 1 })!;
        const second = evaluate(policy, input(again, { now: NOW + 1, trigger: 'UPDATE', previous: memory }));
        for (const t of second.targets) {
          const before = memory[t.target]?.desired ?? null;
          expect(t.desired === null ? null : canonicalJson(t.desired)).toEqual(before === null ? null : canonicalJson(before));
        }
      }),
    );
  });

  it('the memoized evaluation (no explanations) decides exactly what the explained one does', () => {
    const manual = fc.array(
      fc.record({
        id: fc.constantFrom('m1', 'm2'),
        role: fc.constantFrom('eng', 'approver', null),
        target: fc.constantFrom('dir', null),
        group: fc.constantFrom('vpn', null),
        expiresAt: fc.constantFrom(null, NOW + DAY),
      }),
      { maxLength: 2 },
    );
    fc.assert(
      fc.property(attributes, manual, fc.boolean(), (a, m, heldMaker) => {
        const p: PersonRecord = {
          personId: 'p',
          attributes: attrs(a),
          startAt: NOW - DAY,
          terminatedAt: null,
          lastKind: null,
          lastRecordedAt: null,
          heldRoles: heldMaker ? ['maker'] : [],
        };
        const grants = m.map((g) => (g.role !== null ? { ...g, target: null, group: null } : { ...g, target: 'dir' }));
        const plain = evaluate(policy, input(p, { manual: grants, allocations: { uid: 'jdoe' } }));
        const explained = evaluate(policy, input(p, { manual: grants, allocations: { uid: 'jdoe' }, explain: true }));
        expect(plain.roles.map((r) => r.id).sort()).toEqual(explained.roles.map((r) => r.id).sort());
        expect(plain.targets.map((t) => t.desired)).toEqual(explained.targets.map((t) => t.desired));
        expect(plain.violations).toEqual(explained.violations);
        expect(plain.nextEvaluationAt).toEqual(explained.nextEvaluationAt);
      }),
    );
  });

  it('sameDesired agrees with comparing canonical JSON', () => {
    const desired = fc.record({
      target: fc.constantFrom('dir', 'db'),
      targetKind: fc.constantFrom('ldap'),
      state: fc.constantFrom('ACTIVE', 'DISABLED', 'ABSENT'),
      accountName: fc.constantFrom('jdoe', 'jdoe2'),
      attributes: fc.dictionary(
        fc.constantFrom('cn', 'mail', 'title'),
        fc.oneof(fc.constantFrom('a', 'b', null, true, 1), fc.array(fc.constantFrom('x', 'y'), { maxLength: 2 })),
      ),
      groups: fc.uniqueArray(fc.constantFrom('g1', 'g2', 'g3'), { maxLength: 3 }),
    }) as fc.Arbitrary<DesiredAccount>;
    fc.assert(
      fc.property(desired, desired, (a, b) => {
        expect(sameDesired(a, b)).toBe(canonicalJson(a) === canonicalJson(b));
        expect(sameDesired(a, { ...a, groups: [...a.groups].reverse(), attributes: Object.fromEntries(Object.entries(a.attributes).reverse()) })).toBe(true);
      }),
    );
  });
});
