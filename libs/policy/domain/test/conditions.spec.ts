import { describe, expect, it } from '@jest/globals';
import { compileCondition, type ConditionError, Facts, isKnownFact, type ConditionDoc, type ConditionTrace } from '../src/index.js';
import { attrs, DAY, NOW } from './fixtures.js';

const facts = new Facts('p-1', attrs({ department: 'Sales', jobTitle: 'Senior Engineer', hireDate: '2026-02-27', custom: { 'hr:site': 'Berlin' } }));
const check = (doc: ConditionDoc, now = NOW) => compileCondition(doc, isKnownFact)(facts, { now });

describe('conditions', () => {
  it('compares attributes with equals, in, regex, prefixes and existence', () => {
    expect(check({ attribute: 'department', equals: 'Sales' })).toBe(true);
    expect(check({ attribute: 'department', equals: 'sales' })).toBe(false);
    expect(check({ attribute: 'department', equals: 'sales', ignoreCase: true })).toBe(true);
    expect(check({ attribute: 'department', in: ['HR', 'Sales'] })).toBe(true);
    expect(check({ attribute: 'jobTitle', matches: '^Senior\\b' })).toBe(true);
    expect(check({ attribute: 'jobTitle', startsWith: 'Senior' })).toBe(true);
    expect(check({ attribute: 'jobTitle', endsWith: 'engineer', ignoreCase: true })).toBe(true);
    expect(check({ attribute: 'jobTitle', contains: 'Eng' })).toBe(true);
    expect(check({ attribute: 'custom.hr:site', equals: 'Berlin' })).toBe(true);
    expect(check({ attribute: 'location', exists: true })).toBe(false);
    expect(check({ attribute: 'location', exists: false })).toBe(true);
    expect(check({ attribute: 'department', notEquals: 'HR' })).toBe(true);
  });

  it('gives false when in, matches, startsWith, endsWith and contains do not match', () => {
    expect(check({ attribute: 'department', in: ['HR', 'IT'] })).toBe(false);
    expect(check({ attribute: 'department', in: ['sales'] })).toBe(false);
    expect(check({ attribute: 'department', in: [] })).toBe(false);
    expect(check({ attribute: 'location', in: ['Berlin'] })).toBe(false);
    expect(check({ attribute: 'jobTitle', matches: '^Engineer' })).toBe(false);
    expect(check({ attribute: 'jobTitle', matches: '^senior' })).toBe(false);
    expect(check({ attribute: 'location', matches: '.*' })).toBe(false);
    expect(check({ attribute: 'jobTitle', startsWith: 'Engineer' })).toBe(false);
    expect(check({ attribute: 'jobTitle', startsWith: 'senior' })).toBe(false);
    expect(check({ attribute: 'location', startsWith: '' })).toBe(false);
    expect(check({ attribute: 'jobTitle', endsWith: 'Senior' })).toBe(false);
    expect(check({ attribute: 'jobTitle', contains: 'Junior' })).toBe(false);
    expect(check({ attribute: 'department', notEquals: 'Sales' })).toBe(false);
  });

  it('combines with all, any and not', () => {
    expect(check({ all: [{ attribute: 'department', equals: 'Sales' }, { not: { attribute: 'jobTitle', contains: 'Junior' } }] })).toBe(true);
    expect(
      check({
        any: [
          { attribute: 'department', equals: 'HR' },
          { attribute: 'department', equals: 'IT' },
        ],
      }),
    ).toBe(false);
  });

  it('compares dates: hire date within the last 7 days, before and after relative times', () => {
    expect(check({ attribute: 'hireDate', withinLast: '7d' })).toBe(true);
    expect(check({ attribute: 'hireDate', withinLast: '7d' }, NOW + 10 * DAY)).toBe(false);
    expect(check({ attribute: 'hireDate', withinNext: '7d' })).toBe(false);
    expect(check({ attribute: 'hireDate', withinNext: '7d' }, NOW - 5 * DAY)).toBe(true);
    expect(check({ attribute: 'hireDate', after: '-30d' })).toBe(true);
    expect(check({ attribute: 'hireDate', before: '2026-03-01' })).toBe(true);
    expect(check({ attribute: 'hireDate', before: 'now' })).toBe(true);
  });

  it('reports when a date comparison will flip, for timed re-evaluation', () => {
    const flips: number[] = [];
    compileCondition({ attribute: 'hireDate', withinLast: '7d' }, isKnownFact)(facts, { now: NOW, flipAt: (t) => flips.push(t) });
    expect(flips.filter((t) => t > NOW)).toEqual([Date.parse('2026-02-27T00:00:00Z') + 7 * DAY + 1]);
  });

  it('records a trace with the facts it read', () => {
    const trace: ConditionTrace[] = [];
    compileCondition({ all: [{ attribute: 'department', in: ['Sales'] }] }, isKnownFact)(facts, { now: NOW, trace });
    expect(trace).toEqual([{ op: 'all', result: true, children: [{ op: 'in', attribute: 'department', expected: ['Sales'], actual: 'Sales', result: true }] }]);
  });

  it('rejects malformed conditions naming the path and the rule', () => {
    const reject = (doc: unknown) => {
      try {
        compileCondition(doc as ConditionDoc, isKnownFact);
      } catch (e) {
        return { rule: (e as ConditionError).rule, path: (e as ConditionError).path };
      }
      return undefined;
    };
    expect(reject({ attribute: 'department', equals: 'a', in: ['b'] })).toEqual({ rule: 'condition.one-operator', path: [] });
    expect(reject({ all: [{ attribute: 'dept', equals: 'x' }] })).toEqual({ rule: 'condition.unknown-attribute', path: ['all', 0, 'attribute'] });
    expect(reject({ equals: 'x' })).toEqual({ rule: 'condition.attribute-required', path: [] });
    expect(reject({ attribute: 'jobTitle', matches: '(' })).toEqual({ rule: 'condition.regex', path: ['matches'] });
    expect(reject({ attribute: 'hireDate', withinLast: 'soon' })).toEqual({ rule: 'condition.duration', path: ['withinLast'] });
    expect(reject({ attribute: 'hireDate', before: 'yesterday' })).toEqual({ rule: 'condition.time', path: ['before'] });
  });
});
