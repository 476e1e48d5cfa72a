import { z } from 'zod';

const optionalString = z.string().trim().min(1).max(1024).optional();
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/, 'expected an ISO-8601 date or date-time')
  .refine((v) => !Number.isNaN(Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v)), 'not a real date')
  .optional();

/** JSON body of PUT /v1/sources/{source}/workers/{workerId}: a delta of one worker's HR attributes. */
export const workerInputSchema = z
  .object({
    sourceTimestamp: z.string().datetime({ offset: true }).optional(),
    sequence: z.number().int().nonnegative().optional(),
    attributes: z
      .object({
        workerType: optionalString,
        status: z.enum(['active', 'terminated', 'leave', 'pre-hire']).optional(),
        userName: optionalString,
        givenName: optionalString,
        familyName: optionalString,
        displayName: optionalString,
        email: z.string().email().optional(),
        employeeNumber: optionalString,
        department: optionalString,
        division: optionalString,
        costCenter: optionalString,
        company: optionalString,
        organization: optionalString,
        location: optionalString,
        jobTitle: optionalString,
        countryCode: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 code').optional(),
        hireDate: isoDate,
        terminationDate: isoDate,
        onLeave: z.boolean().optional(),
        custom: z.record(z.string(), z.string().max(4096)).optional(),
      })
      .strict(),
  })
  .strict();

export type WorkerInput = z.infer<typeof workerInputSchema>;

export const workerIdSchema = z.string().min(1).max(256).regex(/^[\w.@:-]+$/, 'worker id may contain letters, digits and . _ @ : -');
export const sourceSchema = z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9-]*$/, 'source is lower-case letters, digits and -');
