import { describe, expect, it } from '@jest/globals';
import { avroCodec, type PolicyDecision } from '@provisio/contracts';
import {
  DECISION_LIMITS,
  evaluate,
  flattenTrace,
  GrantTable,
  policyDecision,
  type ConditionTrace,
  type Evaluation,
  type IssuedCommand,
  type Source,
  type TargetMemory,
} from '../src/index.js';
import { DAY, input, NOW, person, testPolicy } from './fixtures.js';

const policy = testPolicy();
const cause = { lifecycleEventId: 'ev-1', lifecycleKind: 'JOINER', reason: 'lifecycle', hrEffectiveAt: NOW - 1000 };

function commandsFor(e: Evaluation, targets: string[]): Map<string, IssuedCommand> {
  return new Map(
    e.targets
      .filter((t) => targets.includes(t.target))
      .map((t) => [t.target, { commandId: `cmd-${t.target}`, version: 1, state: t.desired!.state, accountName: t.desired!.accountName }]),
  );
}

/** A decision's grant references resolved, for reading. */
function resolved(d: PolicyDecision) {
  return d.targets.map((t) => ({
    target: t.target,
    account: t.accountGrantedBy.map((i) => d.grants[i]),
    groups: Object.fromEntries(t.groups.map((g) => [g.group, g.grantedBy.map((i) => d.grants[i])])),
  }));
}

describe('the policy decision record', () => {
  it("captures a joiner's explanation per commanded target: scope and why, account and group grants with role paths, attribute expressions and facts", () => {
    const p = person({ department: 'Engineering' });
    const explained = evaluate(policy, input(p, { allocations: { uid: 'jdoe' }, trigger: 'JOINER', explain: true }));
    const d = policyDecision({
      decisionId: 'dec-1',
      personId: 'p-1',
      cause,
      policyVersion: 4,
      decidedAt: NOW,
      explained,
      commands: commandsFor(explained, ['dir', 'db']),
    });

    expect(d).toMatchObject({ decisionId: 'dec-1', personId: 'p-1', cause, policyVersion: 4, phase: 'ACTIVE', decidedAt: NOW });
    expect(d.targets.map((t) => t.target)).toEqual(['dir', 'db']);
    const dir = d.targets[0]!;
    expect(dir).toMatchObject({
      target: 'dir',
      targetKind: 'ldap',
      commandId: 'cmd-dir',
      version: 1,
      state: 'ACTIVE',
      accountName: 'jdoe',
      inScope: true,
      entitled: true,
      reason: 'active and entitled',
      error: null,
      targetRemoved: false,
      scope: [{ depth: 0, op: 'in', attribute: 'workerType', expected: '["employee","contractor"]', actual: '"employee"', result: true }],
      scopeStepsOmitted: 0,
    });
    // The account: staff through rule `all` directly, and through rule `eng` via eng → staff.
    const all = { kind: 'BIRTHRIGHT', rule: 'all', assignment: null, role: 'staff', path: ['staff'], until: null };
    const engStaff = { kind: 'BIRTHRIGHT', rule: 'eng', assignment: null, role: 'eng', path: ['eng', 'staff'], until: null };
    const eng = { kind: 'BIRTHRIGHT', rule: 'eng', assignment: null, role: 'eng', path: ['eng'], until: null };
    const [r] = resolved(d);
    expect(r!.account).toEqual(expect.arrayContaining([all, engStaff]));
    expect(r!.groups).toEqual({ eng: [eng], staff: expect.arrayContaining([all, engStaff]) });
    expect(dir.groups.map((g) => [g.group, g.sourcesOmitted])).toEqual([
      ['eng', 0],
      ['staff', 0],
    ]);
    // Each grant is listed once, whichever groups and targets it grants.
    expect(new Set(d.grants.map((g) => JSON.stringify(g))).size).toBe(d.grants.length);
    expect(d.grantsOmitted).toBe(0);
    expect(dir.attributes.map((a) => ({ ...a, ...d.expressions[a.expression] }))).toEqual([
      {
        attribute: 'accountName',
        expression: 'lower(stripDiacritics(concat(substring(givenName, 0, 1), familyName)))',
        facts: ['givenName', 'familyName'],
        uniqueNamespace: 'uid',
      },
      { attribute: 'cn', expression: "join(' ', givenName, familyName)", facts: ['givenName', 'familyName'], uniqueNamespace: null },
      { attribute: 'mail', expression: "concat(accountName, '@example.com')", facts: ['accountName'], uniqueNamespace: null },
    ]);
    // db's account name is another expression; each is listed once.
    expect(d.expressions.map((e) => e.expression)).toEqual([
      'lower(stripDiacritics(concat(substring(givenName, 0, 1), familyName)))',
      "join(' ', givenName, familyName)",
      "concat(accountName, '@example.com')",
      "lower(regexReplace(userName, '@.*$', ''))",
    ]);
    // No scope condition: everyone is in scope, nothing to trace.
    expect(d.targets[1]).toMatchObject({ target: 'db', scope: [], inScope: true, accountName: 'jdoe', groups: [{ group: 'readonly' }] });
    expect(resolved(d)[1]!.groups).toEqual({ readonly: [eng] });
    // The record is a valid PolicyDecision (Avro), and the values of the person are not in it beyond the account name and scope values.
    const bytes = avroCodec().encode('PolicyDecision', d);
    expect(avroCodec().decode('PolicyDecision', bytes)).toEqual(d);
    expect(JSON.stringify(d)).not.toContain('john.doe@example.com');
  });

  it('lists only the targets that got a command', () => {
    const explained = evaluate(policy, input(person(), { allocations: { uid: 'jdoe' }, explain: true }));
    const d = policyDecision({
      decisionId: 'dec-2',
      personId: 'p-1',
      cause,
      policyVersion: 1,
      decidedAt: NOW,
      explained,
      commands: commandsFor(explained, ['db']),
    });
    expect(d.targets.map((t) => t.target)).toEqual(['db']);
  });

  it('explains a mover: groups kept through the grace period are RETAINED until its end; an out-of-scope target says why', () => {
    const before = evaluate(policy, input(person({ department: 'Engineering' }), { allocations: { uid: 'jdoe' } }));
    const previous: Record<string, TargetMemory> = Object.fromEntries(
      before.targets.filter((t) => t.desired).map((t) => [t.target, { version: 1, desired: t.desired, ...t.memory }]),
    );
    const explained = evaluate(policy, input(person({ department: 'Sales' }), { allocations: { uid: 'jdoe' }, previous, trigger: 'MOVER', explain: true }));
    const d = policyDecision({
      decisionId: 'dec-3',
      personId: 'p-1',
      cause: { ...cause, lifecycleKind: 'MOVER' },
      policyVersion: 1,
      decidedAt: NOW,
      explained,
      commands: commandsFor(explained, ['dir']),
    });
    const groups = resolved(d)[0]!.groups;
    expect(groups['eng']).toEqual([{ kind: 'RETAINED', rule: null, assignment: null, role: null, path: [], until: NOW + 7 * DAY }]);
    expect(groups['sales']).toEqual([{ kind: 'BIRTHRIGHT', rule: 'sales', assignment: null, role: 'sales', path: ['sales'], until: null }]);

    const intern = evaluate(policy, input(person({ workerType: 'intern' }), { allocations: { uid: 'jdoe' }, previous, explain: true }));
    const gone = policyDecision({
      decisionId: 'dec-4',
      personId: 'p-1',
      cause,
      policyVersion: 1,
      decidedAt: NOW,
      explained: intern,
      commands: commandsFor(intern, ['dir']),
    });
    expect(gone.targets[0]).toMatchObject({
      inScope: false,
      entitled: false,
      state: 'DISABLED',
      reason: 'no longer in scope: account disabled, memberships removed',
      groups: [],
      scope: [{ op: 'in', actual: '"intern"', result: false }],
    });
  });

  it('names manual assignments as the grant', () => {
    const explained = evaluate(
      policy,
      input(person(), { allocations: { uid: 'jdoe' }, manual: [{ id: 'as-1', role: null, target: 'dir', group: 'vip', expiresAt: null }], explain: true }),
    );
    const d = policyDecision({
      decisionId: 'dec-5',
      personId: 'p-1',
      cause,
      policyVersion: 1,
      decidedAt: NOW,
      explained,
      commands: commandsFor(explained, ['dir']),
    });
    expect(resolved(d)[0]!.groups['vip']).toEqual([{ kind: 'MANUAL', rule: null, assignment: 'as-1', role: null, path: [], until: null }]);
  });

  it('stays bounded: scope steps, sources per grant and condition values are cut, and the cuts counted', () => {
    const leaf = (i: number): ConditionTrace => ({ op: 'equals', attribute: 'department', expected: `d${i}`, actual: 'x'.repeat(1000), result: false });
    const trace: ConditionTrace[] = [{ op: 'any', result: false, children: Array.from({ length: 100 }, (_, i) => leaf(i)) }];
    const flat = flattenTrace(trace);
    expect(flat.steps).toHaveLength(DECISION_LIMITS.scopeSteps);
    expect(flat.omitted).toBe(101 - DECISION_LIMITS.scopeSteps);
    expect(flat.steps[0]).toEqual({ depth: 0, op: 'any', attribute: null, expected: null, actual: null, result: false });
    expect(flat.steps[1]).toMatchObject({ depth: 1, op: 'equals', attribute: 'department', expected: '"d0"' });
    expect([...flat.steps[1]!.actual!]).toHaveLength(DECISION_LIMITS.valueChars);

    const table = new GrantTable();
    const sources: Source[] = Array.from({ length: 12 }, (_, i) => ({ kind: 'birthright', rule: `r${i}`, role: 'staff', path: ['staff'] }));
    const b = table.refs([...sources, ...sources]);
    expect(b.refs).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(b.omitted).toBe(12 - DECISION_LIMITS.sourcesPerGrant); // duplicates are not counted
    // The same grants again: the same indices, nothing added.
    expect(table.refs(sources.slice(0, 3)).refs).toEqual([0, 1, 2]);
    // The table is full at DECISION_LIMITS.grants: further distinct grants are counted, not listed.
    for (let i = 0; i < 20; i++)
      table.refs(Array.from({ length: 8 }, (_, j) => ({ kind: 'birthright', rule: `x${i}-${j}`, role: 'r', path: ['r'] }) as Source));
    expect(table.grants).toHaveLength(DECISION_LIMITS.grants);
    expect(table.omitted).toBe(8 + 20 * 8 - DECISION_LIMITS.grants);
    const full = table.refs([{ kind: 'birthright', rule: 'late', role: 'r', path: ['r'] }]);
    expect(full).toEqual({ refs: [], omitted: 1 });
  });
});
