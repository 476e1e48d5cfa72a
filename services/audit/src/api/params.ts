import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';

/** Validates request input; a 400 names each field, the rule and (for short values) the value. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: `invalid ${what}`,
      details: r.error.issues.map((i) => {
        const field = [what, ...i.path].join('.');
        let got: unknown = value;
        for (const p of i.path) got = got && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[p as PropertyKey] : undefined;
        return { field, rule: i.code, message: i.message, ...(typeof got === 'string' && got.length <= 200 ? { value: got } : {}) };
      }),
    });
  }
  return r.data;
}

export const personIdSchema = z.string().regex(/^[\w.:-]{1,128}$/, 'an opaque id: 1-128 letters, digits, ".", ":", "-" or "_"');
export const seqSchema = z.string().regex(/^[1-9]\d{0,17}$/, 'a chain position: a positive integer');
const isoTime = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), 'an ISO-8601 date or date-time')
  .transform((s) => new Date(s));
export const timeSchema = isoTime;
export const limitSchema = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt);

export const rangeQuery = z
  .object({ from: isoTime.optional(), to: isoTime.optional() })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from must not be after to', path: ['from'] });
