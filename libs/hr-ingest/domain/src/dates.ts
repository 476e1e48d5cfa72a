/**
 * HR dates. A date without a time ("2025-03-01") is a calendar day in the worker's time zone; a
 * date-time without an offset is a wall-clock time there; a date-time with `Z` or an offset is an
 * instant. Zone arithmetic uses only `Intl` (no time-zone library, no Temporal).
 */

export type HrDate =
  | { kind: 'date'; y: number; m: number; d: number }
  | { kind: 'local'; y: number; m: number; d: number; h: number; mi: number; s: number; ms: number }
  | { kind: 'instant'; epochMs: number };

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function daysIn(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Parses an ISO-8601 date, local date-time or instant; undefined when it is not a real one. */
export function parseHrDate(text: string): HrDate | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (y < 1900 || y > 2999 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) return undefined;
  if (m[4] === undefined) return { kind: 'date', y, m: mo, d };
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const offset = m[8];
  if (offset === undefined) return { kind: 'local', y, m: mo, d, h, mi, s, ms };
  let offsetMin = 0;
  if (offset !== 'Z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 18 || om > 59) return undefined;
    offsetMin = sign * (oh * 60 + om);
  }
  return { kind: 'instant', epochMs: Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMin * 60_000 };
}

export function isHrDate(text: string): boolean {
  return parseHrDate(text) !== undefined;
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** True when the runtime knows the IANA zone name. */
export function isValidTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `zone` from UTC at an instant, in milliseconds (east positive). */
export function zoneOffsetMs(zone: string, epochMs: number): number {
  const whole = Math.floor(epochMs / 1000) * 1000;
  const parts = formatter(zone).formatToParts(new Date(whole));
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const p of parts) {
    switch (p.type) {
      case 'year': y = Number(p.value); break;
      case 'month': mo = Number(p.value); break;
      case 'day': d = Number(p.value); break;
      case 'hour': h = Number(p.value); break;
      case 'minute': mi = Number(p.value); break;
      case 'second': s = Number(p.value); break;
      default: break;
    }
  }
  return Date.UTC(y, mo - 1, d, h, mi, s) - whole;
}

/**
 * The instant a wall-clock time in `zone` denotes. In a gap (clocks jump forward) it lands just
 * after the jump; in an overlap it takes the earlier of the two instants.
 */
export function zonedTimeToEpoch(zone: string, y: number, m: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const wall = Date.UTC(y, m - 1, d, h, mi, s, ms);
  const guess = wall - zoneOffsetMs(zone, wall);
  if (zoneOffsetMs(zone, guess) === wall - guess) {
    // Usual case; still prefer the earlier instant when the wall time occurs twice.
    const before = wall - zoneOffsetMs(zone, wall - DAY_MS);
    return before < guess && zoneOffsetMs(zone, before) === wall - before ? before : guess;
  }
  const before = wall - zoneOffsetMs(zone, wall - DAY_MS);
  const after = wall - zoneOffsetMs(zone, wall + DAY_MS);
  const valid = [before, after].filter((c) => zoneOffsetMs(zone, c) === wall - c);
  // No valid instant: the wall time falls in a gap; read it with the offset in force before the jump.
  return valid.length > 0 ? Math.min(...valid) : before;
}

const instantCache = new Map<string, number | null>();
const CACHE_LIMIT = 100_000;

/**
 * The instant an HR date stands for in `zone`. `edge` decides what a bare calendar day means:
 * `start` is its first moment (a hire date), `end` the first moment of the next day (a
 * termination date names the last day worked). Undefined for text that is not a date.
 */
export function hrInstant(text: string, zone: string, edge: 'start' | 'end'): number | undefined {
  const key = `${text}|${zone}|${edge}`;
  const hit = instantCache.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const parsed = parseHrDate(text);
  let out: number | null = null;
  if (parsed?.kind === 'instant') out = parsed.epochMs;
  else if (parsed?.kind === 'local') out = zonedTimeToEpoch(zone, parsed.y, parsed.m, parsed.d, parsed.h, parsed.mi, parsed.s, parsed.ms);
  else if (parsed?.kind === 'date') {
    const next = edge === 'end' ? new Date(Date.UTC(parsed.y, parsed.m - 1, parsed.d + 1)) : undefined;
    out = next ? zonedTimeToEpoch(zone, next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()) : zonedTimeToEpoch(zone, parsed.y, parsed.m, parsed.d);
  }
  if (instantCache.size >= CACHE_LIMIT) instantCache.clear();
  instantCache.set(key, out);
  return out ?? undefined;
}

/** Date formats a CSV mapping may declare for a column. */
export const DATE_FORMATS = ['ISO', 'YYYY-MM-DD', 'DD.MM.YYYY', 'DD/MM/YYYY', 'MM/DD/YYYY', 'YYYYMMDD', 'DD-MM-YYYY'] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

const FORMAT_PATTERNS: Record<Exclude<DateFormat, 'ISO'>, { re: RegExp; order: ['y' | 'm' | 'd', 'y' | 'm' | 'd', 'y' | 'm' | 'd'] }> = {
  'YYYY-MM-DD': { re: /^(\d{4})-(\d{1,2})-(\d{1,2})$/, order: ['y', 'm', 'd'] },
  'DD.MM.YYYY': { re: /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/, order: ['d', 'm', 'y'] },
  'DD/MM/YYYY': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, order: ['d', 'm', 'y'] },
  'MM/DD/YYYY': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, order: ['m', 'd', 'y'] },
  'YYYYMMDD': { re: /^(\d{4})(\d{2})(\d{2})$/, order: ['y', 'm', 'd'] },
  'DD-MM-YYYY': { re: /^(\d{1,2})-(\d{1,2})-(\d{4})$/, order: ['d', 'm', 'y'] },
};

/**
 * Converts a date written in `format` to ISO-8601 (`YYYY-MM-DD`, or the ISO text itself for
 * `ISO`). Undefined when the text does not match the format or is not a real day.
 */
export function toIsoDate(text: string, format: DateFormat): string | undefined {
  if (format === 'ISO') return isHrDate(text) ? text : undefined;
  const p = FORMAT_PATTERNS[format];
  const m = p.re.exec(text);
  if (!m) return undefined;
  const parts = { y: 0, m: 0, d: 0 };
  p.order.forEach((k, i) => (parts[k] = Number(m[i + 1])));
  if (parts.m < 1 || parts.m > 12 || parts.d < 1 || parts.y < 1900 || parts.y > 2999 || parts.d > daysIn(parts.y, parts.m)) return undefined;
  return `${String(parts.y).padStart(4, '0')}-${String(parts.m).padStart(2, '0')}-${String(parts.d).padStart(2, '0')}`;
}
