import { factReader, type Facts } from './facts.js';
import { parseDate, parseDuration, parseTimePoint, UTC, type TimeZone } from './time.js';

/** A condition as written in a policy (see docs/policy.md). */
export interface ConditionDoc {
  all?: ConditionDoc[];
  any?: ConditionDoc[];
  not?: ConditionDoc;
  always?: boolean;
  attribute?: string;
  equals?: string | number | boolean;
  notEquals?: string | number | boolean;
  in?: (string | number)[];
  matches?: string;
  startsWith?: string;
  endsWith?: string;
  contains?: string;
  exists?: boolean;
  before?: string;
  after?: string;
  withinLast?: string;
  withinNext?: string;
  ignoreCase?: boolean;
}

export const COMPARISON_OPERATORS = [
  'equals',
  'notEquals',
  'in',
  'matches',
  'startsWith',
  'endsWith',
  'contains',
  'exists',
  'before',
  'after',
  'withinLast',
  'withinNext',
] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

/** One evaluated leaf, kept for explanations. */
export interface ConditionTrace {
  op: 'all' | 'any' | 'not' | 'always' | ComparisonOperator;
  attribute?: string;
  expected?: unknown;
  actual?: unknown;
  result: boolean;
  children?: ConditionTrace[];
}

export interface ConditionEnv {
  now: number;
  /** Receives instants at which a date comparison's result will flip (for timed re-evaluation). */
  flipAt?: (t: number) => void;
  /** When set, evaluation records a trace here. */
  trace?: ConditionTrace[];
}

export type CompiledCondition = (facts: Facts, env: ConditionEnv) => boolean;

/** A problem in a condition: the path below the condition node and the rule broken. */
export class ConditionError extends Error {
  constructor(
    message: string,
    readonly path: (string | number)[],
    readonly rule: string,
  ) {
    super(message);
    this.name = 'ConditionError';
  }
}

const TRUE: CompiledCondition = (_f, env) => {
  env.trace?.push({ op: 'always', result: true });
  return true;
};

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : String(v);
}

function group(op: 'all' | 'any' | 'not', parts: CompiledCondition[]): CompiledCondition {
  return (f, env) => {
    const outer = env.trace;
    const children: ConditionTrace[] | undefined = outer ? [] : undefined;
    const inner: ConditionEnv = outer ? { ...env, trace: children } : env;
    let result: boolean;
    if (op === 'all') result = parts.every((p) => p(f, inner));
    else if (op === 'any') result = parts.some((p) => p(f, inner));
    else result = !parts[0]!(f, inner);
    outer?.push({ op, result, children: children! });
    return result;
  };
}

/**
 * Compiles a condition to a closure. Checks the shape (exactly one operator, attribute known,
 * regex and dates valid); throws ConditionError naming the path and the rule. Dates without an
 * offset are read in `zone`.
 */
export function compileCondition(
  doc: ConditionDoc | undefined,
  isKnownFact: (name: string) => boolean,
  path: (string | number)[] = [],
  zone: TimeZone = UTC,
): CompiledCondition {
  if (doc === undefined) return TRUE;
  const keys = Object.keys(doc);
  const combinators = keys.filter((k) => k === 'all' || k === 'any' || k === 'not' || k === 'always');
  const operators = keys.filter((k) => (COMPARISON_OPERATORS as readonly string[]).includes(k)) as ComparisonOperator[];
  if (combinators.length + operators.length !== 1) {
    const found = [...combinators, ...operators];
    throw new ConditionError(
      found.length === 0
        ? 'a condition needs one of all, any, not, always, or an attribute with one operator'
        : `a condition has exactly one of all, any, not, always or an operator; found ${found.join(', ')}`,
      path,
      'condition.one-operator',
    );
  }
  if (doc.all)
    return group(
      'all',
      doc.all.map((c, i) => compileCondition(c, isKnownFact, [...path, 'all', i], zone)),
    );
  if (doc.any)
    return group(
      'any',
      doc.any.map((c, i) => compileCondition(c, isKnownFact, [...path, 'any', i], zone)),
    );
  if (doc.not) return group('not', [compileCondition(doc.not, isKnownFact, [...path, 'not'], zone)]);
  if (combinators[0] === 'always') {
    if (doc.always !== true) throw new ConditionError('always must be true (use not: {always: true} for never)', [...path, 'always'], 'condition.always');
    return TRUE;
  }
  const op = operators[0]!;
  const attribute = doc.attribute;
  if (attribute === undefined) throw new ConditionError(`operator ${op} needs an attribute`, path, 'condition.attribute-required');
  if (!isKnownFact(attribute)) throw new ConditionError(`unknown attribute '${attribute}'`, [...path, 'attribute'], 'condition.unknown-attribute');
  const ic = doc.ignoreCase === true;
  const norm = (s: string | null) => (s !== null && ic ? s.toLowerCase() : s);
  const read = factReader(attribute);
  const leaf = (expected: unknown, test: (actual: unknown, env: ConditionEnv) => boolean): CompiledCondition => {
    return (f, env) => {
      const actual = read(f);
      const result = test(actual, env);
      if (env.trace) env.trace.push({ op, attribute, expected, actual, result });
      return result;
    };
  };
  const at = [...path, op];
  switch (op) {
    case 'equals':
    case 'notEquals': {
      const want = doc[op]!;
      const wantText = norm(text(want));
      const eq = (a: unknown) => a === want || (a !== null && a !== undefined && norm(text(a)) === wantText);
      return op === 'equals' ? leaf(want, (a) => eq(a)) : leaf(want, (a) => !eq(a));
    }
    case 'in': {
      const set = new Set(doc.in!.map((v) => norm(text(v))));
      return leaf(doc.in, (a) => a !== null && a !== undefined && set.has(norm(text(a))));
    }
    case 'matches': {
      let re: RegExp;
      try {
        re = new RegExp(doc.matches!, ic ? 'iu' : 'u');
      } catch (e) {
        throw new ConditionError(`invalid regular expression: ${(e as Error).message}`, at, 'condition.regex');
      }
      return leaf(doc.matches, (a) => {
        const s = text(a);
        return s !== null && re.test(s);
      });
    }
    case 'startsWith':
    case 'endsWith':
    case 'contains': {
      const want = norm(doc[op]!)!;
      return leaf(doc[op], (a) => {
        const s = norm(text(a));
        if (s === null) return false;
        return op === 'startsWith' ? s.startsWith(want) : op === 'endsWith' ? s.endsWith(want) : s.includes(want);
      });
    }
    case 'exists': {
      const want = doc.exists!;
      return leaf(want, (a) => (a !== null && a !== undefined && a !== '') === want);
    }
    case 'before':
    case 'after': {
      const raw = doc[op]!;
      const point = parseTimePoint(raw, zone);
      if (!point) throw new ConditionError(`'${raw}' is not now, a relative time (-30d, +7d) or an ISO date`, at, 'condition.time');
      const relative = raw === 'now' || /^[+-]/.test(raw);
      return leaf(raw, (a, env) => {
        const v = parseDate(a, zone);
        if (v === undefined) return false;
        const t = point(env.now);
        // A relative bound moves with time: the comparison flips when the bound passes the value.
        if (relative && env.flipAt) env.flipAt(env.now + (v - t) + (op === 'before' ? 0 : 1));
        return op === 'before' ? v < t : v > t;
      });
    }
    case 'withinLast':
    case 'withinNext': {
      const raw = doc[op]!;
      const d = parseDuration(raw);
      if (d === undefined) throw new ConditionError(`'${raw}' is not a duration (7d, 12h, 2w, P7D)`, at, 'condition.duration');
      return leaf(raw, (a, env) => {
        const v = parseDate(a, zone);
        if (v === undefined) return false;
        const now = env.now;
        if (op === 'withinLast') {
          env.flipAt?.(v);
          env.flipAt?.(v + d + 1);
          return v <= now && v >= now - d;
        }
        env.flipAt?.(v - d);
        env.flipAt?.(v + 1);
        return v >= now && v <= now + d;
      });
    }
  }
}
