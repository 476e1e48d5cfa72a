import { describe, expect, it } from '@jest/globals';
import { hrInstant, isValidTimeZone, parseHrDate, parseTimeZoneSettings, toIsoDate, zoneFor, zonedTimeToEpoch } from '../src/index.js';

describe('HR dates', () => {
  it('parses dates, local date-times and instants, and refuses days that do not exist', () => {
    expect(parseHrDate('2025-03-01')).toEqual({ kind: 'date', y: 2025, m: 3, d: 1 });
    expect(parseHrDate('2025-03-01T09:30')).toMatchObject({ kind: 'local', h: 9, mi: 30, s: 0 });
    expect(parseHrDate('2025-03-01T09:30:00+02:00')).toEqual({ kind: 'instant', epochMs: Date.parse('2025-03-01T07:30:00Z') });
    expect(parseHrDate('2025-03-01T09:30:00.5Z')).toEqual({ kind: 'instant', epochMs: Date.parse('2025-03-01T09:30:00.500Z') });
    for (const bad of ['2025-02-29', '2024-13-01', '2024-04-31', '01/02/2024', '2024-01-01T25:00', 'tomorrow', '']) expect(parseHrDate(bad)).toBeUndefined();
    expect(parseHrDate('2024-02-29')).toBeDefined();
  });

  it('reads a calendar day in the worker zone: a hire starts at local midnight, a termination ends after the last day', () => {
    expect(hrInstant('2025-01-15', 'Europe/Berlin', 'start')).toBe(Date.parse('2025-01-14T23:00:00Z'));
    expect(hrInstant('2025-07-15', 'Europe/Berlin', 'start')).toBe(Date.parse('2025-07-14T22:00:00Z'));
    expect(hrInstant('2025-01-15', 'America/New_York', 'end')).toBe(Date.parse('2025-01-16T05:00:00Z'));
    expect(hrInstant('2025-01-15', 'Asia/Kolkata', 'start')).toBe(Date.parse('2025-01-14T18:30:00Z'));
    expect(hrInstant('2025-01-15T09:00', 'Asia/Tokyo', 'start')).toBe(Date.parse('2025-01-15T00:00:00Z'));
    // An instant is an instant whatever the zone.
    expect(hrInstant('2025-01-15T09:00:00Z', 'Asia/Tokyo', 'end')).toBe(Date.parse('2025-01-15T09:00:00Z'));
    expect(hrInstant('not a date', 'UTC', 'start')).toBeUndefined();
  });

  it('handles daylight-saving gaps and overlaps', () => {
    // Berlin springs forward 2025-03-30 02:00 → 03:00: 02:30 does not exist and reads as 03:30 CEST.
    expect(zonedTimeToEpoch('Europe/Berlin', 2025, 3, 30, 2, 30)).toBe(Date.parse('2025-03-30T01:30:00Z'));
    // Falls back 2025-10-26 03:00 → 02:00: 02:30 happens twice, the earlier one is taken.
    expect(zonedTimeToEpoch('Europe/Berlin', 2025, 10, 26, 2, 30)).toBe(Date.parse('2025-10-26T00:30:00Z'));
    // The end of the day before a DST switch is still local midnight.
    expect(hrInstant('2025-03-29', 'Europe/Berlin', 'end')).toBe(Date.parse('2025-03-29T23:00:00Z'));
  });

  it('converts declared CSV date formats to ISO', () => {
    expect(toIsoDate('03/01/2025', 'MM/DD/YYYY')).toBe('2025-03-01');
    expect(toIsoDate('03/01/2025', 'DD/MM/YYYY')).toBe('2025-01-03');
    expect(toIsoDate('1.3.2025', 'DD.MM.YYYY')).toBe('2025-03-01');
    expect(toIsoDate('20250301', 'YYYYMMDD')).toBe('2025-03-01');
    expect(toIsoDate('2025-03-01T08:00Z', 'ISO')).toBe('2025-03-01T08:00Z');
    expect(toIsoDate('02/30/2025', 'MM/DD/YYYY')).toBeUndefined();
    expect(toIsoDate('2025-03-01', 'DD.MM.YYYY')).toBeUndefined();
  });
});

describe('time zones', () => {
  it('chooses location, then country, then the default; and checks every zone name', () => {
    const { settings, errors } = parseTimeZoneSettings({ default: 'Europe/London', locations: { 'Berlin HQ': 'Europe/Berlin' }, countries: { us: 'America/New_York' } });
    expect(errors).toEqual([]);
    expect(zoneFor(settings, 'berlin hq', 'US')).toBe('Europe/Berlin');
    expect(zoneFor(settings, 'Remote', 'us')).toBe('America/New_York');
    expect(zoneFor(settings, null, 'FR')).toBe('Europe/London');
    const bad = parseTimeZoneSettings({ locations: { Mars: 'Mars/Olympus' }, countries: { USA: 'America/New_York' }, extra: 1 });
    expect(bad.errors.map((e) => `${e.field}:${e.rule}`).sort()).toEqual(['countries.USA:iso-3166-alpha-2', 'extra:known-key', 'locations.Mars:iana-time-zone']);
    expect(isValidTimeZone('America/Argentina/Buenos_Aires')).toBe(true);
  });
});
