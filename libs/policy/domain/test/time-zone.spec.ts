import { describe, expect, it } from '@jest/globals';
import {
  applyLifecycleEvent,
  compileCondition,
  compileExpression,
  evaluate,
  Facts,
  formatDate,
  isKnownFact,
  loadPolicyOrThrow,
  parseDate,
  TimeZone,
  UTC,
} from '../src/index.js';
import { attrs, input, POLICY_YAML } from './fixtures.js';

const BERLIN = TimeZone.of('Europe/Berlin');
const NEW_YORK = TimeZone.of('America/New_York');
const H = 3_600_000;

describe('policy time zone', () => {
  it('reads a date as midnight of that day in the zone, and a date-time without offset as wall-clock time there', () => {
    expect(parseDate('2026-03-01')).toBe(Date.parse('2026-03-01T00:00:00Z'));
    expect(parseDate('2026-03-01', BERLIN)).toBe(Date.parse('2026-02-28T23:00:00Z'));
    expect(parseDate('2026-07-01', BERLIN)).toBe(Date.parse('2026-06-30T22:00:00Z'));
    expect(parseDate('2026-07-01', NEW_YORK)).toBe(Date.parse('2026-07-01T04:00:00Z'));
    expect(parseDate('2026-07-01T09:30', BERLIN)).toBe(Date.parse('2026-07-01T07:30:00Z'));
    // An explicit offset wins over the zone.
    expect(parseDate('2026-07-01T09:30:00Z', BERLIN)).toBe(Date.parse('2026-07-01T09:30:00Z'));
    expect(parseDate('2026-07-01T09:30:00+05:30', BERLIN)).toBe(Date.parse('2026-07-01T04:00:00Z'));
    expect(parseDate('2026-02-30', BERLIN)).toBeUndefined();
    expect(parseDate('yesterday', BERLIN)).toBeUndefined();
  });

  it('handles daylight-saving changes: a skipped time moves forward, a repeated one is the earlier instant', () => {
    // Berlin skips 02:00-03:00 on 2026-03-29 and repeats 02:00-03:00 on 2026-10-25.
    expect(parseDate('2026-03-29T02:30', BERLIN)).toBe(Date.parse('2026-03-29T01:30:00Z'));
    expect(parseDate('2026-03-29T03:30', BERLIN)).toBe(Date.parse('2026-03-29T01:30:00Z'));
    expect(parseDate('2026-10-25T02:30', BERLIN)).toBe(Date.parse('2026-10-25T00:30:00Z'));
    expect(parseDate('2026-10-25T03:30', BERLIN)).toBe(Date.parse('2026-10-25T02:30:00Z'));
    expect(BERLIN.startOfDay(Date.parse('2026-03-29T12:00:00Z'))).toBe(Date.parse('2026-03-28T23:00:00Z'));
    expect(BERLIN.startOfDay(Date.parse('2026-03-30T12:00:00Z'))).toBe(Date.parse('2026-03-29T22:00:00Z'));
  });

  it('formats wall-clock time in the zone', () => {
    const t = Date.parse('2026-12-31T23:30:00Z');
    expect(formatDate(t, 'yyyy-MM-dd HH:mm')).toBe('2026-12-31 23:30');
    expect(formatDate(t, 'yyyy-MM-dd HH:mm', BERLIN)).toBe('2027-01-01 00:30');
    expect(formatDate(t, "dd.MM.yyyy 'at' HH:mm", NEW_YORK)).toBe('31.12.2026 at 18:30');
    const scope = (d: string) => ({ get: () => d });
    expect(compileExpression("formatDate(d, 'yyyyMMdd')", () => true, BERLIN).evaluate(scope('2026-12-31T23:30:00Z'))).toBe('20270101');
    // A date alone stays the same calendar day in any zone.
    expect(compileExpression("formatDate(d, 'yyyyMMdd')", () => true, NEW_YORK).evaluate(scope('2026-03-01'))).toBe('20260301');
  });

  it('puts day boundaries of date conditions in the zone', () => {
    // 00:30 on 10 March in Berlin is still 9 March in UTC: a hire date of 10 March has come in Berlin only.
    const now = Date.parse('2026-03-09T23:30:00Z');
    const facts = new Facts('p', attrs({ hireDate: '2026-03-10' }));
    const started = { attribute: 'hireDate', before: 'now' } as const;
    expect(compileCondition(started, isKnownFact)(facts, { now })).toBe(false);
    expect(compileCondition(started, isKnownFact, [], BERLIN)(facts, { now })).toBe(true);
    expect(compileCondition({ attribute: 'hireDate', withinLast: '1d' }, isKnownFact, [], BERLIN)(facts, { now })).toBe(true);
    expect(compileCondition({ attribute: 'hireDate', after: '2026-03-09' }, isKnownFact, [], BERLIN)(facts, { now })).toBe(true);
    // The instant a comparison flips (for timed re-evaluation) is the zone's midnight.
    const flips: number[] = [];
    compileCondition({ attribute: 'hireDate', withinNext: '7d' }, isKnownFact, [], BERLIN)(new Facts('p', attrs({ hireDate: '2026-03-20' })), {
      now,
      flipAt: (t) => flips.push(t),
    });
    expect(flips).toContain(Date.parse('2026-03-19T23:00:00Z') - 7 * 24 * H);
  });

  it('starts a pre-hire at midnight of the hire date in the zone', () => {
    const e = {
      kind: 'JOINER' as const,
      stage: 'EFFECTIVE' as const,
      personId: 'p',
      effectiveAt: Date.parse('2026-03-01T12:00:00Z'),
      recordedAt: Date.parse('2026-03-01T12:00:00Z'),
      attributes: attrs({ status: 'pre-hire', hireDate: '2026-04-01' }),
    };
    expect(applyLifecycleEvent(undefined, e)!.startAt).toBe(Date.parse('2026-04-01T00:00:00Z'));
    expect(applyLifecycleEvent(undefined, e, BERLIN)!.startAt).toBe(Date.parse('2026-03-31T22:00:00Z'));
  });

  it('is a load option: the compiled policy carries its zone', () => {
    const yaml = POLICY_YAML.replace("cn: join(' ', givenName, familyName)", "cn: formatDate(hireDate, 'yyyy-MM-dd')");
    const berlin = loadPolicyOrThrow([{ name: 'p.yaml', content: yaml }], { timeZone: 'Europe/Berlin' }).policy;
    expect(berlin.timeZone).toBe(BERLIN);
    expect(loadPolicyOrThrow([{ name: 'p.yaml', content: yaml }]).policy.timeZone).toBe(UTC);
    const e = evaluate(berlin, input({ ...applyLifecycleEvent(undefined, { kind: 'JOINER', stage: 'EFFECTIVE', personId: 'p', effectiveAt: 0, recordedAt: 0, attributes: attrs() }, berlin.timeZone)! }, { allocations: { uid: 'jdoe' } }));
    expect(e.targets.find((t) => t.target === 'dir')!.desired!.attributes['cn']).toBe('2025-01-01');
  });

  it('rejects an unknown zone by name', () => {
    expect(TimeZone.isValid('Europe/Berlin')).toBe(true);
    expect(TimeZone.isValid('UTC')).toBe(true);
    expect(TimeZone.isValid('Mars/Olympus')).toBe(false);
    expect(() => TimeZone.of('Mars/Olympus')).toThrow("unknown time zone 'Mars/Olympus'");
    expect(() => loadPolicyOrThrow([{ name: 'p.yaml', content: POLICY_YAML }], { timeZone: 'Nowhere' })).toThrow(RangeError);
  });
});
