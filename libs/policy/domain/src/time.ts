/**
 * Durations and dates as policies write them. Durations are fixed lengths (`1d` = 24 hours); a
 * date without a time (`2026-03-01`) is midnight and a date-time without an offset is wall-clock
 * time, both in the policy time zone (POLICY_TIME_ZONE, default UTC), as are the fields
 * formatDate prints.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const ISO_DURATION = /^P(?:(\d{1,9})W)?(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?$/;
const DAY_MS = 86_400_000;

/** `7d`, `12h`, `30m`, `2w`, `0d`, or ISO-8601 `P7D` / `PT12H`; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m) return Number(m[1]) * UNIT_MS[m[2]!]!;
  const iso = ISO_DURATION.exec(text);
  if (iso && text !== 'P' && !text.endsWith('T')) {
    const [, w, d, h, mi, s] = iso.map((x) => Number(x ?? 0));
    return (w! * 7 + d!) * 86_400_000 + h! * 3_600_000 + mi! * 60_000 + s! * 1000;
  }
  return undefined;
}

/** Wall-clock fields; month 1-12. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

/** Bounded memo: policies see few distinct dates (hire dates of a population), so hits dominate. */
class Memo<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K, make: (k: K) => V): V {
    const hit = this.map.get(k);
    if (hit !== undefined || this.map.has(k)) return hit as V;
    const v = make(k);
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(k, v);
    return v;
  }
}

/**
 * A time zone (IANA name, e.g. Europe/Berlin, or UTC): converts between instants and wall-clock
 * time. A wall-clock time that does not exist (skipped by a daylight-saving change) moves forward
 * by the gap; one that exists twice is the earlier instant.
 */
export class TimeZone {
  private readonly utc: boolean;
  private readonly parts: Intl.DateTimeFormat | undefined;
  private readonly offsets = new Memo<number, number>(20_000);
  private readonly dates = new Memo<string, number | undefined>(50_000);
  private readonly clocks = new Memo<number, WallClock>(50_000);

  private constructor(readonly name: string) {
    this.utc = name === 'UTC';
    this.parts = this.utc
      ? undefined
      : new Intl.DateTimeFormat('en-US', {
          timeZone: name,
          hourCycle: 'h23',
          year: 'numeric',
          month: 'numeric',
          day: 'numeric',
          hour: 'numeric',
          minute: 'numeric',
          second: 'numeric',
        });
  }

  private static readonly zones = new Map<string, TimeZone>();

  /** The zone named `name`; throws a RangeError naming it when the runtime does not know it. */
  static of(name = 'UTC'): TimeZone {
    const known = TimeZone.zones.get(name);
    if (known) return known;
    if (!TimeZone.isValid(name)) throw new RangeError(`unknown time zone '${name}' (use an IANA name such as Europe/Berlin, or UTC)`);
    const canonical = name.toUpperCase() === 'UTC' || name === 'Etc/UTC' ? 'UTC' : name;
    const zone = TimeZone.zones.get(canonical) ?? new TimeZone(canonical);
    TimeZone.zones.set(canonical, zone);
    TimeZone.zones.set(name, zone);
    return zone;
  }

  static isValid(name: string): boolean {
    if (name.length === 0 || name.length > 64) return false;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: name });
      return true;
    } catch {
      return false;
    }
  }

  /** Offset of the zone from UTC at an instant, in ms (positive east of Greenwich). */
  offsetAt(ms: number): number {
    if (this.utc) return 0;
    // Offsets change on whole minutes; a minute's offset is cached.
    const minute = Math.floor(ms / 60_000) * 60_000;
    return this.offsets.get(minute, (m) => {
      const f: Record<string, number> = {};
      for (const p of this.parts!.formatToParts(new Date(m))) if (p.type !== 'literal') f[p.type] = Number(p.value);
      return Date.UTC(f['year']!, f['month']! - 1, f['day']!, f['hour']!, f['minute']!, f['second']!) - m;
    });
  }

  /** Wall-clock time of an instant in this zone. */
  wallClock(ms: number): WallClock {
    return this.clocks.get(ms, (t) => {
      const d = new Date(t + this.offsetAt(t));
      return {
        year: d.getUTCFullYear(),
        month: d.getUTCMonth() + 1,
        day: d.getUTCDate(),
        hour: d.getUTCHours(),
        minute: d.getUTCMinutes(),
        second: d.getUTCSeconds(),
        millisecond: d.getUTCMilliseconds(),
      };
    });
  }

  /** The instant of a wall-clock time (given as if it were UTC, i.e. Date.UTC of its fields). */
  instantOf(wall: number): number {
    if (this.utc) return wall;
    // The offset a day before and a day after bracket any single transition.
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    const a = wall - before;
    const b = wall - after;
    const aValid = this.offsetAt(a) === before;
    const bValid = this.offsetAt(b) === after;
    if (aValid && bValid) return Math.min(a, b);
    if (aValid) return a;
    if (bValid) return b;
    // Skipped by a transition (spring forward): the offset before it moves the time forward by the gap.
    return a;
  }

  /** Midnight at the start of the calendar day of `ms` in this zone. */
  startOfDay(ms: number): number {
    const w = this.wallClock(ms);
    return this.instantOf(Date.UTC(w.year, w.month - 1, w.day));
  }

  /** ISO-8601 date (midnight here) or date-time (here when it has no offset) → epoch ms. */
  parse(value: string): number | undefined {
    return this.dates.get(value, (v) => {
      const m = ISO_DATE.exec(v);
      if (!m) return undefined;
      const [, y, mo, d, time, h, mi, s, frac, zone] = m;
      const year = Number(y);
      const month = Number(mo);
      const day = Number(d);
      const hour = time ? Number(h) : 0;
      const minute = time ? Number(mi) : 0;
      const second = s ? Number(s) : 0;
      const milli = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
      if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
      const wall = Date.UTC(year, month - 1, day, hour, minute, second, milli);
      if (!zone) return this.instantOf(wall);
      if (zone === 'Z') return wall;
      const sign = zone[0] === '-' ? -1 : 1;
      const offH = Number(zone.slice(1, 3));
      const offM = Number(zone.slice(4, 6));
      if (offH > 23 || offM > 59) return undefined;
      return wall - sign * (offH * 3_600_000 + offM * 60_000);
    });
  }
}

export const UTC = TimeZone.of('UTC');

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** ISO-8601 date (midnight in `zone`) or date-time (in `zone` when it has no offset) → epoch ms; undefined otherwise. */
export function parseDate(value: unknown, zone: TimeZone = UTC): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  return zone.parse(value);
}

/**
 * A point in time in a condition: `now`, a relative offset from now (`-30d`, `+7d`), or an
 * absolute ISO date (in `zone`). Returns a function of `now` so a compiled policy stays time-independent.
 */
export function parseTimePoint(text: string, zone: TimeZone = UTC): ((now: number) => number) | undefined {
  if (text === 'now') return (now) => now;
  const rel = /^([+-])(.+)$/.exec(text);
  if (rel) {
    const d = parseDuration(rel[2]!);
    if (d === undefined) return undefined;
    const signed = rel[1] === '-' ? -d : d;
    return (now) => now + signed;
  }
  const abs = parseDate(text, zone);
  return abs === undefined ? undefined : () => abs;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

const FIELDS: Record<string, (w: WallClock) => string> = {
  yyyy: (w) => pad(w.year, 4),
  yy: (w) => pad(w.year % 100),
  MM: (w) => pad(w.month),
  M: (w) => String(w.month),
  dd: (w) => pad(w.day),
  d: (w) => String(w.day),
  HH: (w) => pad(w.hour),
  mm: (w) => pad(w.minute),
  ss: (w) => pad(w.second),
  SSS: (w) => pad(w.millisecond, 3),
};

/**
 * Compiles a date pattern (tokens yyyy yy MM M dd d HH mm ss SSS; text in '...' is literal) into a
 * formatter of epoch ms in `zone`.
 */
export function dateFormatter(pattern: string, zone: TimeZone = UTC): (ms: number) => string {
  const parts: (string | ((w: WallClock) => string))[] = [];
  const re = /'([^']*)'|yyyy|yy|MM|M|dd|d|HH|mm|ss|SSS/g;
  let last = 0;
  for (let m = re.exec(pattern); m; m = re.exec(pattern)) {
    if (m.index > last) parts.push(pattern.slice(last, m.index));
    parts.push(m[1] !== undefined ? m[1] : FIELDS[m[0]]!);
    last = re.lastIndex;
  }
  if (last < pattern.length) parts.push(pattern.slice(last));
  return (ms) => {
    const w = zone.wallClock(ms);
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(w);
    return out;
  };
}

/** Formats epoch ms in `zone` (see dateFormatter). */
export function formatDate(ms: number, pattern: string, zone: TimeZone = UTC): string {
  return dateFormatter(pattern, zone)(ms);
}
