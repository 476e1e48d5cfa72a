import { z } from 'zod';
import { toAlpha2 } from './country-codes.js';
import { isHrDate } from './dates.js';
import { fieldError, type FieldError } from './field-error.js';

/** HR status values hr-ingest understands (inputs map their own vocabulary onto these). */
export const HR_STATUSES = ['active', 'terminated', 'leave', 'pre-hire'] as const;
export type HrStatus = (typeof HR_STATUSES)[number];

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const text = z.string().trim().min(1, 'must not be empty').max(1024, 'at most 1024 characters');
const date = z
  .string()
  .trim()
  .refine(isHrDate, { message: 'expected an ISO-8601 date (YYYY-MM-DD) or date-time that exists in the calendar', params: { rule: 'iso-8601-date' } });

/**
 * The canonical HR attributes an input may carry. Absent means "unchanged" (never cleared, never
 * disabled); `null` clears an attribute; `status` cannot be cleared.
 */
export const hrAttributesInputSchema = z
  .object({
    workerType: text.nullable().optional().describe('e.g. employee, contractor, intern; a change is a CONVERSION'),
    status: z.enum(HR_STATUSES).optional().describe('active, terminated, leave or pre-hire'),
    userName: text.nullable().optional(),
    givenName: text.nullable().optional(),
    familyName: text.nullable().optional(),
    displayName: text.nullable().optional(),
    email: z.string().trim().max(320).regex(EMAIL, 'expected an email address').nullable().optional(),
    employeeNumber: text.nullable().optional(),
    department: text.nullable().optional(),
    division: text.nullable().optional(),
    costCenter: text.nullable().optional(),
    company: text.nullable().optional(),
    organization: text.nullable().optional(),
    location: text.nullable().optional().describe('site name; may select the time zone (HR_TIME_ZONES)'),
    jobTitle: text.nullable().optional(),
    countryCode: z
      .string()
      .trim()
      .refine((v) => toAlpha2(v) !== undefined, {
        message: 'expected an ISO 3166-1 country code: alpha-2 (DE) or alpha-3 (DEU), one that is assigned',
        params: { rule: 'iso-3166-1' },
      })
      .transform((v) => toAlpha2(v)!)
      .nullable()
      .optional()
      .describe('ISO 3166-1 alpha-2 or alpha-3, stored as alpha-2'),
    hireDate: date.nullable().optional().describe('first day; a date without time is read in the worker\'s time zone'),
    terminationDate: date.nullable().optional().describe('last day worked; the leaver takes effect at the end of that day'),
    onLeave: z.boolean().nullable().optional(),
    custom: z
      .record(z.string().min(1).max(256), z.string().max(4096).nullable())
      .optional()
      .describe('extension attributes, keyed namespace:name; null removes one'),
  })
  .strict();

export type HrAttributesInput = z.output<typeof hrAttributesInputSchema>;
export type HrField = Exclude<keyof HrAttributesInput, 'custom'>;
export const HR_FIELDS = Object.keys(hrAttributesInputSchema.shape).filter((k) => k !== 'custom') as HrField[];

export const workerIdSchema = z
  .string()
  .min(1, 'the worker id is required')
  .max(256)
  .regex(/^[\w.@:-]+$/, 'a worker id may contain letters, digits and . _ @ : -');
export const sourceSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'a source is lower-case letters, digits and -');

/** One worker as any HR input (API, SCIM, webhook, CSV) describes it, normalized. */
export interface WorkerRecord {
  source: string;
  workerId: string;
  attributes: HrAttributesInput;
  /** The manager's worker id in the same source: undefined = unchanged, null = no manager. */
  managerWorkerId?: string | null | undefined;
  /** When the source changed the worker (epoch ms); older than the stored one = stale. */
  sourceTimestamp?: number | undefined;
  /** The source's change sequence number; lower than the stored one = stale. */
  sequence?: number | undefined;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Zod issues as field errors: the field path under `prefix`, the value received, the rule. */
export function toFieldErrors(error: z.ZodError, input: unknown, prefix: string): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(fieldError(path ? `${path}.${key}` : key, undefined, 'known-attribute', 'unknown attribute'));
      continue;
    }
    const params = (issue as { params?: { rule?: string } }).params;
    const format = (issue as { format?: string }).format;
    const rule = params?.rule ?? (issue.code === 'invalid_format' && format ? `format:${format}` : issue.code);
    out.push(fieldError(path || '(root)', valueAt(input, issue.path), rule, issue.message));
  }
  return out;
}

/** Validates canonical attributes; the errors name `prefix.field`. */
export function parseHrAttributes(input: unknown, prefix = 'attributes'): { ok: true; value: HrAttributesInput } | { ok: false; errors: FieldError[] } {
  const r = hrAttributesInputSchema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: toFieldErrors(r.error, input, prefix) };
}

export function parseWorkerId(input: unknown, field = 'workerId'): { ok: true; value: string } | { ok: false; errors: FieldError[] } {
  if (input === undefined || input === null || input === '') return { ok: false, errors: [fieldError(field, input ?? undefined, 'required', 'the worker id is required')] };
  const r = workerIdSchema.safeParse(typeof input === 'string' ? input.trim() : input);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: toFieldErrors(r.error, input, field) };
}
