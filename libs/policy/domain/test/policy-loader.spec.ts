import { describe, expect, it } from '@jest/globals';
import { formatProblem, loadPolicy, type PolicyProblem } from '../src/index.js';
import { POLICY_YAML } from './fixtures.js';

const problems = (files: { name: string; content: string }[]): PolicyProblem[] => {
  const r = loadPolicy(files);
  if (r.ok) throw new Error('expected the policy to be rejected');
  return r.problems;
};
const one = (content: string) => problems([{ name: 'p.yaml', content }]);
const HEAD = 'apiVersion: provisio.dev/v1\nkind: Policy\n';

describe('loading policies', () => {
  it('compiles a valid policy with role closures', () => {
    const r = loadPolicy([{ name: 'test.yaml', content: POLICY_YAML }]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy.name).toBe('test');
    expect(r.policy.roles.get('eng')!.closure).toEqual(['eng', 'staff']);
    expect(r.policy.targets.map((t) => t.id)).toEqual(['dir', 'db']);
    expect(r.policy.lifecycle.moverGraceMs).toBe(7 * 86_400_000);
  });

  it('reports YAML syntax errors with file and line', () => {
    expect(one(`${HEAD}roles:\n  - id: a\n   bad: [\n`)[0]).toMatchObject({ file: 'p.yaml', line: 5, rule: 'yaml.syntax' });
  });

  it('reports schema violations at the offending line, naming the rule', () => {
    const p = one(`${HEAD}targets:\n  - id: t\n    kind: ldap\n    acount: { name: x }\n`);
    expect(p).toEqual(
      expect.arrayContaining([
        { file: 'p.yaml', line: 4, column: 5, path: 'targets[0]', rule: 'schema.required', message: "must have required property 'account'" },
        { file: 'p.yaml', line: 6, column: 5, path: 'targets[0].acount', rule: 'schema.additionalProperties', message: "unknown property 'acount'" },
      ]),
    );
    expect(one(`apiVersion: v2\nkind: Policy\n`)[0]).toMatchObject({ line: 1, column: 13, rule: 'schema.const', message: 'must be "provisio.dev/v1"' });
    expect(one(`${HEAD}sod:\n  - id: s\n    mode: block\n    sets: [[{role: a}], [{role: b}]]\n`)).toEqual([
      expect.objectContaining({ line: 5, path: 'sod[0].mode', rule: 'schema.enum', message: 'must be one of "prevent", "flag"' }),
    ]);
  });

  it('reports broken references, cycles, conditions and expressions with line and column', () => {
    const content = `${HEAD}targets:
  - id: t
    kind: ldap
    account: { name: "lowr(givenName)" }
    attributes:
      mail: concat(accountName, '@x', nosuch)
roles:
  - id: a
    includes: [b]
  - id: b
    includes: [a]
    entitlements: { other: {} }
birthright:
  - id: r
    when: { attribute: dept, equals: x }
    grant: [nope]
`;
    const p = one(content);
    const byRule = (rule: string) => p.filter((x) => x.rule === rule);
    expect(byRule('expression.unknown-function')[0]).toMatchObject({ line: 6, column: 23, path: 'targets[0].account.name' });
    expect(byRule('expression.unknown-attribute')[0]).toMatchObject({ line: 8, column: 39, path: 'targets[0].attributes.mail' });
    expect(byRule('reference.role-cycle')[0]!.message).toMatch(/a → b → a|b → a → b/);
    expect(byRule('reference.unknown-target')[0]).toMatchObject({ line: 14, path: 'roles[1].entitlements.other' });
    expect(byRule('condition.unknown-attribute')[0]).toMatchObject({ line: 17, path: 'birthright[0].when.attribute' });
    expect(byRule('reference.unknown-role')[0]).toMatchObject({ line: 18, path: 'birthright[0].grant[0]' });
    expect(formatProblem(byRule('reference.unknown-role')[0]!)).toBe(
      "p.yaml:18:13: birthright[0].grant[0]: rule 'r' grants unknown role 'nope' [reference.unknown-role]",
    );
  });

  it('merges several files and points errors at the file that holds the element', () => {
    const roles = { name: 'roles.yaml', content: `${HEAD}roles:\n  - id: staff\n  - id: dup\n` };
    const rules = { name: 'rules.yaml', content: `${HEAD}roles:\n  - id: dup\nbirthright:\n  - id: r\n    grant: [staff, ghost]\n` };
    const p = problems([roles, rules]);
    expect(p).toEqual([
      expect.objectContaining({ file: 'rules.yaml', line: 4, rule: 'reference.duplicate-id', path: 'roles[0].id' }),
      expect.objectContaining({ file: 'rules.yaml', line: 7, rule: 'reference.unknown-role', path: 'birthright[0].grant[1]' }),
    ]);
    const lifecycle = `${HEAD}lifecycle: { mover: { gracePeriod: 1d } }\n`;
    expect(
      problems([
        { name: 'a.yaml', content: lifecycle },
        { name: 'b.yaml', content: lifecycle },
      ]),
    ).toEqual([expect.objectContaining({ file: 'b.yaml', line: 3, rule: 'merge.duplicate-section' })]);
    const ok = loadPolicy([roles, { name: 'rules.yaml', content: `${HEAD}birthright:\n  - id: r\n    grant: [staff]\n` }]);
    expect(ok.ok && ok.policy.birthright.map((b) => b.id)).toEqual(['r']);
  });
});
