import { dateFormatter, UTC, type TimeZone } from './time.js';

/**
 * The attribute-mapping expression language: literals, attribute references and function calls.
 *
 *   lower(stripDiacritics(concat(substring(givenName, 0, 1), familyName)))
 *   default(custom["hr:preferredName"], givenName)
 *   switch(countryCode, 'DE', 'Germany', 'FR', 'France', 'Elsewhere')
 *
 * Expressions are parsed and checked once, when a policy is loaded, into closures.
 */
export type Value = string | number | boolean | null;

export interface ExprScope {
  get(ref: string): Value;
}

export interface CompiledExpression {
  source: string;
  /** Attribute references the expression reads (for explanations). */
  refs: string[];
  evaluate(scope: ExprScope): Value;
}

export class ExpressionError extends Error {
  constructor(
    message: string,
    /** Character offset in the expression source. */
    readonly offset: number,
    /** Machine-readable rule: expression.syntax, expression.unknown-function, ... */
    readonly rule: string,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

type Node = { t: 'lit'; v: Value; at: number } | { t: 'ref'; name: string; at: number } | { t: 'call'; fn: string; args: Node[]; at: number };

type Token = { k: 'id' | 'str' | 'num' | 'punct'; v: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ k: 'id', v: m[0], at: i });
      i += m[0].length;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i));
      if (!m) throw new ExpressionError(`unexpected '${c}'`, i, 'expression.syntax');
      out.push({ k: 'num', v: m[0], at: i });
      i += m[0].length;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= src.length) throw new ExpressionError('unterminated string literal', i, 'expression.syntax');
        const d = src[j]!;
        if (d === '\\') {
          const e = src[j + 1];
          if (e === undefined) throw new ExpressionError('unterminated string literal', i, 'expression.syntax');
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else if (d === c) {
          j++;
          break;
        } else {
          s += d;
          j++;
        }
      }
      out.push({ k: 'str', v: s, at: i });
      i = j;
    } else if ('(),.[]'.includes(c)) {
      out.push({ k: 'punct', v: c, at: i });
      i++;
    } else {
      throw new ExpressionError(`unexpected '${c}'`, i, 'expression.syntax');
    }
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly length: number,
  ) {}

  parseAll(): Node {
    if (this.tokens.length === 0) throw new ExpressionError('empty expression', 0, 'expression.syntax');
    const n = this.expr();
    const rest = this.tokens[this.i];
    if (rest) throw new ExpressionError(`unexpected '${rest.v}' after the end of the expression`, rest.at, 'expression.syntax');
    return n;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private expect(v: string): Token {
    const t = this.tokens[this.i];
    if (!t || t.k !== 'punct' || t.v !== v)
      throw new ExpressionError(`expected '${v}'${t ? ` but found '${t.v}'` : ' at the end'}`, t?.at ?? this.length, 'expression.syntax');
    this.i++;
    return t;
  }

  private expr(): Node {
    const t = this.tokens[this.i++];
    if (!t) throw new ExpressionError('unexpected end of expression', this.length, 'expression.syntax');
    if (t.k === 'str') return { t: 'lit', v: t.v, at: t.at };
    if (t.k === 'num') return { t: 'lit', v: Number(t.v), at: t.at };
    if (t.k === 'punct') throw new ExpressionError(`unexpected '${t.v}'`, t.at, 'expression.syntax');
    if (t.v === 'true' || t.v === 'false') return { t: 'lit', v: t.v === 'true', at: t.at };
    if (t.v === 'null') return { t: 'lit', v: null, at: t.at };
    const next = this.peek();
    if (next?.k === 'punct' && next.v === '(') {
      this.i++;
      const args: Node[] = [];
      if (!(this.peek()?.k === 'punct' && this.peek()?.v === ')')) {
        for (;;) {
          args.push(this.expr());
          const sep = this.peek();
          if (sep?.k === 'punct' && sep.v === ',') {
            this.i++;
            continue;
          }
          break;
        }
      }
      this.expect(')');
      return { t: 'call', fn: t.v, args, at: t.at };
    }
    let name = t.v;
    for (;;) {
      const p = this.peek();
      if (p?.k === 'punct' && p.v === '.') {
        this.i++;
        const id = this.tokens[this.i++];
        if (!id || id.k !== 'id') throw new ExpressionError(`expected a name after '.'`, id?.at ?? this.length, 'expression.syntax');
        name += `.${id.v}`;
      } else if (p?.k === 'punct' && p.v === '[') {
        this.i++;
        const key = this.tokens[this.i++];
        if (!key || key.k !== 'str') throw new ExpressionError(`expected a quoted key after '['`, key?.at ?? this.length, 'expression.syntax');
        this.expect(']');
        name += `.${key.v}`;
      } else break;
    }
    return { t: 'ref', name, at: t.at };
  }
}

const str = (v: Value): string | null => (v === null ? null : String(v));

const DIACRITIC_FOLDS: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  Æ: 'AE',
  œ: 'oe',
  Œ: 'OE',
  ø: 'o',
  Ø: 'O',
  ł: 'l',
  Ł: 'L',
  đ: 'd',
  Đ: 'D',
  ð: 'd',
  Ð: 'D',
  þ: 'th',
  Þ: 'Th',
  ı: 'i',
};

/** Removes accents and folds letters that have no decomposition (ß → ss, ø → o, ł → l, ...). */
export function stripDiacritics(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(s)) return s;
  return s
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/[ßæÆœŒøØłŁđĐðÐþÞı]/g, (c) => DIACRITIC_FOLDS[c] ?? c);
}

type Impl = (args: Value[]) => Value;

interface FnSpec {
  min: number;
  max: number;
  /** Argument positions that must be literals (checked and pre-compiled at load). */
  literal?: number[];
  make: (literals: Value[], zone: TimeZone) => Impl;
}

const FUNCTIONS: Record<string, FnSpec> = {
  concat: {
    min: 1,
    max: 64,
    make: () => (a) => {
      let out = '';
      for (const v of a) if (v !== null) out += String(v);
      return out;
    },
  },
  join: {
    min: 2,
    max: 64,
    literal: [0],
    make:
      ([sep]) =>
      (a) =>
        a
          .slice(1)
          .map(str)
          .filter((v): v is string => v !== null && v !== '')
          .join(String(sep)),
  },
  lower: {
    min: 1,
    max: 1,
    make:
      () =>
      ([v]) =>
        str(v ?? null)?.toLowerCase() ?? null,
  },
  upper: {
    min: 1,
    max: 1,
    make:
      () =>
      ([v]) =>
        str(v ?? null)?.toUpperCase() ?? null,
  },
  trim: {
    min: 1,
    max: 1,
    make:
      () =>
      ([v]) =>
        str(v ?? null)?.trim() ?? null,
  },
  substring: {
    min: 2,
    max: 3,
    make:
      () =>
      ([v, start, len]) => {
        const s = str(v ?? null);
        if (s === null) return null;
        const b = Number(start);
        const chars = [...s];
        return chars.slice(b, len === undefined || len === null ? undefined : b + Number(len)).join('');
      },
  },
  replace: {
    min: 3,
    max: 3,
    make:
      () =>
      ([v, search, repl]) => {
        const s = str(v ?? null);
        return s === null ? null : s.split(str(search ?? null) ?? '').join(str(repl ?? null) ?? '');
      },
  },
  regexReplace: {
    min: 3,
    max: 3,
    literal: [1],
    make: ([, pattern]) => {
      const re = new RegExp(String(pattern), 'gu');
      return ([v, , repl]) => {
        const s = str(v ?? null);
        return s === null ? null : s.replace(re, str(repl ?? null) ?? '');
      };
    },
  },
  stripDiacritics: {
    min: 1,
    max: 1,
    make:
      () =>
      ([v]) => {
        const s = str(v ?? null);
        return s === null ? null : stripDiacritics(s);
      },
  },
  default: { min: 2, max: 64, make: () => (a) => a.find((v) => v !== null && v !== '') ?? null },
  switch: {
    min: 3,
    max: 129,
    make: () => (a) => {
      const [subject, ...pairs] = a;
      for (let i = 0; i + 1 < pairs.length; i += 2) if (pairs[i] === subject || str(pairs[i]!) === str(subject ?? null)) return pairs[i + 1]!;
      return pairs.length % 2 === 1 ? pairs[pairs.length - 1]! : null;
    },
  },
  formatDate: {
    min: 2,
    max: 2,
    literal: [1],
    make: ([, pattern], zone) => {
      const format = dateFormatter(String(pattern), zone);
      return ([v]) => {
        const ms = typeof v === 'number' ? (Number.isFinite(v) ? v : undefined) : typeof v === 'string' ? zone.parse(v) : undefined;
        return ms === undefined ? null : format(ms);
      };
    },
  },
};

export const EXPRESSION_FUNCTIONS = Object.keys(FUNCTIONS);

function check(n: Node, isKnownRef: (ref: string) => boolean, refs: Set<string>): void {
  if (n.t === 'ref') {
    if (!isKnownRef(n.name)) throw new ExpressionError(`unknown attribute '${n.name}'`, n.at, 'expression.unknown-attribute');
    refs.add(n.name);
    return;
  }
  if (n.t !== 'call') return;
  const spec = FUNCTIONS[n.fn];
  if (!spec) throw new ExpressionError(`unknown function '${n.fn}' (known: ${EXPRESSION_FUNCTIONS.join(', ')})`, n.at, 'expression.unknown-function');
  if (n.args.length < spec.min || n.args.length > spec.max) {
    const want = spec.min === spec.max ? `${spec.min}` : spec.max >= 64 ? `at least ${spec.min}` : `${spec.min} to ${spec.max}`;
    throw new ExpressionError(`${n.fn}() takes ${want} argument(s), got ${n.args.length}`, n.at, 'expression.arity');
  }
  if (n.fn === 'switch' && n.args.length < 3) throw new ExpressionError('switch() needs a value and at least one case/result pair', n.at, 'expression.arity');
  for (const i of spec.literal ?? []) {
    const a = n.args[i];
    if (a && a.t !== 'lit') throw new ExpressionError(`argument ${i + 1} of ${n.fn}() must be a literal`, a.at, 'expression.literal-required');
  }
  if (n.fn === 'regexReplace') {
    try {
      new RegExp(String((n.args[1] as { v: Value }).v), 'gu');
    } catch (e) {
      throw new ExpressionError(`invalid regular expression: ${(e as Error).message}`, n.args[1]!.at, 'expression.regex');
    }
  }
  for (const a of n.args) check(a, isKnownRef, refs);
}

function build(n: Node, zone: TimeZone): (scope: ExprScope) => Value {
  if (n.t === 'lit') {
    const v = n.v;
    return () => v;
  }
  if (n.t === 'ref') {
    const name = n.name;
    return (s) => s.get(name);
  }
  const spec = FUNCTIONS[n.fn]!;
  const impl = spec.make(
    n.args.map((a) => (a.t === 'lit' ? a.v : null)),
    zone,
  );
  const args = n.args.map((a) => build(a, zone));
  // Each call node owns its argument array: a node is never re-entered while it evaluates.
  const values: Value[] = new Array<Value>(args.length).fill(null);
  if (args.length === 1) {
    const [a] = args as [(s: ExprScope) => Value];
    return (s) => {
      values[0] = a(s);
      return impl(values);
    };
  }
  return (s) => {
    for (let i = 0; i < args.length; i++) values[i] = args[i]!(s);
    return impl(values);
  };
}

/**
 * Parses and checks an expression; throws ExpressionError naming the offset and the rule. Dates
 * (formatDate) are read and printed in `zone`.
 */
export function compileExpression(source: string, isKnownRef: (ref: string) => boolean, zone: TimeZone = UTC): CompiledExpression {
  const ast = new Parser(tokenize(source), source.length).parseAll();
  const refs = new Set<string>();
  check(ast, isKnownRef, refs);
  const fn = build(ast, zone);
  return { source, refs: [...refs], evaluate: fn };
}
