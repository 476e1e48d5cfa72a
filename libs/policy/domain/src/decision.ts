import type { DecisionConditionStep, DecisionExpression, DecisionGrant, DecisionTarget, PolicyDecision } from '@provisio/contracts';
import type { ConditionTrace } from './conditions.js';
import type { Evaluation, Source, TargetDecision } from './evaluator.js';

/**
 * Bounds of one PolicyDecision record. A decision lists only the targets whose desired state
 * changed; per target its size follows the policy (groups, attributes, role paths), never the
 * number of people or of past events. What a bound cuts is counted in `*Omitted`.
 */
export const DECISION_LIMITS = {
  /** Nodes of a target's scope condition trace (depth-first). */
  scopeSteps: 32,
  /** Sources listed per group and for the account (birthright rules, assignments). */
  sourcesPerGrant: 8,
  /** Distinct grants in one decision's `grants` table. */
  grants: 64,
  /** Characters of a condition's expected/actual value (JSON text). */
  valueChars: 100,
  /** Characters of an attribute's expression. */
  expressionChars: 200,
} as const;

/** What the engine knows about one command when it builds the decision. */
export interface IssuedCommand {
  commandId: string;
  version: number;
  state: DecisionTarget['state'];
  accountName: string;
}

export interface DecisionInput {
  decisionId: string;
  personId: string;
  cause: PolicyDecision['cause'];
  policyVersion: number;
  decidedAt: number;
  /** The person's evaluation with `explain: true`. */
  explained: Evaluation;
  /** The commands issued, by target id: only these targets are in the decision. */
  commands: ReadonlyMap<string, IssuedCommand>;
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function valueText(v: unknown): string | null {
  if (v === undefined) return null;
  const text = JSON.stringify(v) ?? null;
  return text === null ? null : cut(text, DECISION_LIMITS.valueChars);
}

/** A condition trace flattened depth-first, at most DECISION_LIMITS.scopeSteps nodes. */
export function flattenTrace(trace: readonly ConditionTrace[] | undefined): { steps: DecisionConditionStep[]; omitted: number } {
  const steps: DecisionConditionStep[] = [];
  let omitted = 0;
  const walk = (nodes: readonly ConditionTrace[], depth: number) => {
    for (const n of nodes) {
      if (steps.length >= DECISION_LIMITS.scopeSteps) omitted++;
      else
        steps.push({
          depth,
          op: n.op,
          attribute: n.attribute ?? null,
          expected: valueText(n.expected),
          actual: n.op === 'all' || n.op === 'any' || n.op === 'not' || n.op === 'always' ? null : valueText(n.actual ?? null),
          result: n.result,
        });
      if (n.children) walk(n.children, depth + 1);
    }
  };
  walk(trace ?? [], 0);
  return { steps, omitted };
}

function grantOf(s: Source): DecisionGrant {
  switch (s.kind) {
    case 'birthright':
      return { kind: 'BIRTHRIGHT', rule: s.rule, assignment: null, role: s.role, path: s.path, until: null };
    case 'manual':
      return { kind: 'MANUAL', rule: null, assignment: s.assignment, role: s.role, path: s.path, until: null };
    case 'retained':
      return { kind: 'RETAINED', rule: null, assignment: null, role: null, path: [], until: s.until };
  }
}

function grantKey(s: Source): string {
  switch (s.kind) {
    case 'birthright':
      return `b\u0000${s.rule}\u0000${s.role}\u0000${s.path.join('>')}`;
    case 'manual':
      return `m\u0000${s.assignment}\u0000${s.role}\u0000${s.path.join('>')}`;
    case 'retained':
      return `r\u0000${s.until}`;
  }
}

/**
 * The grants of one decision, each listed once: groups and accounts of every target refer to them
 * by index (the same rule and role path typically grants many groups on several targets).
 */
export class GrantTable {
  readonly grants: DecisionGrant[] = [];
  /** Distinct grants that did not fit. */
  omitted = 0;
  private readonly index = new Map<string, number>();
  private readonly overflow = new Set<string>();
  /** Evaluations share Source objects between the groups they grant: their keys are computed once. */
  private readonly keys = new Map<Source, string>();

  /** Indices of a grant list's distinct sources, at most DECISION_LIMITS.sourcesPerGrant; the rest counted. */
  refs(sources: readonly Source[] | undefined): { refs: number[]; omitted: number } {
    const refs: number[] = [];
    const seen = new Set<string>();
    let omitted = 0;
    for (const s of sources ?? []) {
      let key = this.keys.get(s);
      if (key === undefined) this.keys.set(s, (key = grantKey(s)));
      if (seen.has(key)) continue;
      seen.add(key);
      const i = refs.length < DECISION_LIMITS.sourcesPerGrant ? this.indexOf(key, s) : -1;
      if (i >= 0) refs.push(i);
      else omitted++;
    }
    return { refs, omitted };
  }

  private indexOf(key: string, s: Source): number {
    const known = this.index.get(key);
    if (known !== undefined) return known;
    if (this.grants.length >= DECISION_LIMITS.grants) {
      if (!this.overflow.has(key)) {
        this.overflow.add(key);
        this.omitted++;
      }
      return -1;
    }
    this.index.set(key, this.grants.length);
    this.grants.push(grantOf(s));
    return this.grants.length - 1;
  }
}

/** The attribute expressions of one decision, each listed once with the facts it reads. */
export class ExpressionTable {
  readonly expressions: DecisionExpression[] = [];
  private readonly index = new Map<string, number>();

  ref(expression: string, facts: readonly string[]): number {
    const text = cut(expression, DECISION_LIMITS.expressionChars);
    const key = `${text}\u0000${facts.join('\u0000')}`;
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.expressions.length;
      this.index.set(key, i);
      this.expressions.push({ expression: text, facts: [...facts] });
    }
    return i;
  }
}

/** One target's part of a decision, from its explained evaluation and the command it produced. */
export function decisionTarget(t: TargetDecision, command: IssuedCommand, grants: GrantTable, expressions: ExpressionTable): DecisionTarget {
  const scope = flattenTrace(t.scopeTrace);
  const account = grants.refs(t.accountSources);
  return {
    target: t.target,
    targetKind: t.kind,
    commandId: command.commandId,
    version: command.version,
    state: command.state,
    accountName: command.accountName,
    inScope: t.inScope,
    entitled: t.entitled,
    reason: t.reason,
    error: t.error,
    targetRemoved: t.removed === true,
    scope: scope.steps,
    scopeStepsOmitted: scope.omitted,
    accountGrantedBy: account.refs,
    accountSourcesOmitted: account.omitted,
    groups: (t.groups ?? []).map((g) => {
      const b = grants.refs(g.sources);
      return { group: g.name, grantedBy: b.refs, sourcesOmitted: b.omitted };
    }),
    attributes: (t.attributes ?? []).map((a) => ({
      attribute: a.name,
      expression: expressions.ref(a.expression, Object.keys(a.facts)),
      uniqueNamespace: a.unique,
    })),
  };
}

/**
 * The PolicyDecision record of one person evaluation: for each target that got a command, what
 * the explain endpoint shows (scope and why, what grants the account and each group, each
 * attribute's expression and the HR facts it read), as decided at that moment.
 */
export function policyDecision(i: DecisionInput): PolicyDecision {
  const grants = new GrantTable();
  const expressions = new ExpressionTable();
  const targets: DecisionTarget[] = [];
  for (const t of i.explained.targets) {
    const command = i.commands.get(t.target);
    if (command) targets.push(decisionTarget(t, command, grants, expressions));
  }
  return {
    decisionId: i.decisionId,
    personId: i.personId,
    cause: i.cause,
    policyVersion: i.policyVersion,
    phase: i.explained.phase,
    grants: grants.grants,
    grantsOmitted: grants.omitted,
    expressions: expressions.expressions,
    targets,
    decidedAt: i.decidedAt,
  };
}
