/** Durations and dates as policies write them. Days are 24-hour UTC days. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const ISO_DURATION = /^P(?:(\d{1,9})W)?(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?$/;

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

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** ISO-8601 date (midnight UTC) or date-time (UTC when no offset) → epoch ms; undefined otherwise. */
export function parseDate(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !ISO_DATE.test(value)) return undefined;
  const text = value.length === 10 ? `${value}T00:00:00Z` : /Z|[+-]\d{2}:\d{2}$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A point in time in a condition: `now`, a relative offset from now (`-30d`, `+7d`), or an
 * absolute ISO date. Returns a function of `now` so a compiled policy stays time-independent.
 */
export function parseTimePoint(text: string): ((now: number) => number) | undefined {
  if (text === 'now') return (now) => now;
  const rel = /^([+-])(.+)$/.exec(text);
  if (rel) {
    const d = parseDuration(rel[2]!);
    if (d === undefined) return undefined;
    const signed = rel[1] === '-' ? -d : d;
    return (now) => now + signed;
  }
  const abs = parseDate(text);
  return abs === undefined ? undefined : () => abs;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Formats epoch ms in UTC with tokens yyyy yy MM M dd d HH mm ss SSS; text in '...' is literal. */
export function formatDate(ms: number, pattern: string): string {
  const d = new Date(ms);
  const tokens: Record<string, () => string> = {
    yyyy: () => pad(d.getUTCFullYear(), 4),
    yy: () => pad(d.getUTCFullYear() % 100),
    MM: () => pad(d.getUTCMonth() + 1),
    M: () => String(d.getUTCMonth() + 1),
    dd: () => pad(d.getUTCDate()),
    d: () => String(d.getUTCDate()),
    HH: () => pad(d.getUTCHours()),
    mm: () => pad(d.getUTCMinutes()),
    ss: () => pad(d.getUTCSeconds()),
    SSS: () => pad(d.getUTCMilliseconds(), 3),
  };
  return pattern.replace(/'([^']*)'|yyyy|yy|MM|M|dd|d|HH|mm|ss|SSS/g, (m, literal: string | undefined) => (literal !== undefined ? literal : tokens[m]!()));
}
