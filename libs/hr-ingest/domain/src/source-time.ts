import { fieldError, type FieldError } from './field-error.js';

/** Default tolerance for a source clock ahead of hr-ingest's (HR_MAX_CLOCK_SKEW). */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** `300` (seconds), `300s`, `5m`, `1h`, `500ms` → milliseconds; undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? 's').toLowerCase();
  return Math.round(Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit]!);
}

/** `300000` → `5m`, for messages. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * A source time (when HR made a change, or exported a file) later than now plus the allowed
 * clock skew is refused (rule `not-in-future`). It would become the person's attribute stamps
 * and watermark, and every later, correct change would be refused as older. Effective dates
 * (hireDate, terminationDate) are not source times: they may lie in the future.
 */
export function futureSourceTime(epochMs: number | undefined, field: string, now: number, maxSkewMs: number, shown?: string): FieldError | undefined {
  if (epochMs === undefined || !Number.isFinite(epochMs) || epochMs <= now + maxSkewMs) return undefined;
  const limit = new Date(now + maxSkewMs).toISOString();
  return fieldError(
    field,
    shown ?? new Date(epochMs).toISOString(),
    'not-in-future',
    `the source time must be at most now + ${formatDuration(maxSkewMs)} (${limit}; HR_MAX_CLOCK_SKEW): a source time in the future would make every later change look older. Future hire or termination dates belong in hireDate / terminationDate`,
  );
}
