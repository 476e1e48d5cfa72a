import { describe, expect, it } from '@jest/globals';
import { compileExpression, type ExpressionError, type Value } from '../src/index.js';

const scope = (values: Record<string, Value>) => ({ get: (ref: string) => values[ref] ?? null });
const run = (src: string, values: Record<string, Value> = {}) => compileExpression(src, () => true).evaluate(scope(values));
const error = (src: string, known: (r: string) => boolean = () => true): ExpressionError => {
  try {
    compileExpression(src, known);
  } catch (e) {
    return e as ExpressionError;
  }
  throw new Error(`expected ${src} to be rejected`);
};

describe('expressions', () => {
  it('concatenates, changes case and takes substrings by code point', () => {
    expect(run('lower(concat(substring(givenName, 0, 1), familyName))', { givenName: 'Émile', familyName: 'Zola' })).toBe('ézola');
    expect(run("upper(substring('abcdef', 2))")).toBe('CDEF');
    expect(run("substring('😀abc', 0, 2)")).toBe('😀a');
    expect(run("concat(a, '-', b)", { a: 'x' })).toBe('x-');
  });

  it('strips diacritics including letters without a decomposition', () => {
    expect(run('stripDiacritics(n)', { n: 'Ångström Søren Łukasz Straße Çelik' })).toBe('Angstrom Soren Lukasz Strasse Celik');
  });

  it('replaces literally and by regular expression', () => {
    expect(run("replace(s, '.', '_')", { s: 'a.b.c' })).toBe('a_b_c');
    expect(run("regexReplace(s, '[^a-z]+', '-')", { s: 'ab12cd!!e' })).toBe('ab-cd-e');
  });

  it('defaults to the first non-empty value and propagates null through string functions', () => {
    expect(run("default(a, b, 'z')", { a: '', b: null })).toBe('z');
    expect(run('default(a, b)', { b: 'B' })).toBe('B');
    expect(run('lower(missing)')).toBeNull();
    expect(run("join(' ', a, b, c)", { a: 'Ada', c: 'Lovelace' })).toBe('Ada Lovelace');
  });

  it('switches on a value with an optional default', () => {
    const e = "switch(c, 'DE', 'de', 'FR', 'fr', 'en')";
    expect(run(e, { c: 'FR' })).toBe('fr');
    expect(run(e, { c: 'US' })).toBe('en');
    expect(run("switch(c, 'DE', 'de')", { c: 'US' })).toBeNull();
    expect(run("switch(n, 1, 'one', 2, 'two')", { n: 2 })).toBe('two');
  });

  it('formats dates in UTC', () => {
    expect(run("formatDate(d, 'yyyy-MM-dd HH:mm')", { d: '2026-03-02T09:05:00Z' })).toBe('2026-03-02 09:05');
    expect(run("formatDate(d, 'dd.MM.yy')", { d: '2026-03-02' })).toBe('02.03.26');
    expect(run("formatDate(d, 'yyyy')", { d: 'not a date' })).toBeNull();
  });

  it('reads custom attributes by dotted or bracketed name', () => {
    expect(compileExpression('concat(custom.team, custom["hr:site"])', () => true).refs).toEqual(['custom.team', 'custom.hr:site']);
  });

  it('rejects bad expressions naming the rule and the offset', () => {
    expect(error('lowr(x)')).toMatchObject({ rule: 'expression.unknown-function', offset: 0 });
    expect(error('lower(a, b)')).toMatchObject({ rule: 'expression.arity' });
    expect(error("concat(a, 'b'")).toMatchObject({ rule: 'expression.syntax', offset: 13 });
    expect(error("regexReplace(a, b, 'c')")).toMatchObject({ rule: 'expression.literal-required', offset: 16 });
    expect(error("regexReplace(a, '(', 'c')")).toMatchObject({ rule: 'expression.regex' });
    expect(error('concat(nope)', (r) => r !== 'nope')).toMatchObject({ rule: 'expression.unknown-attribute', offset: 7 });
    expect(error("'unterminated")).toMatchObject({ rule: 'expression.syntax' });
  });
});
