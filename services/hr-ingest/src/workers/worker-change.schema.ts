import { hrAttributesInputSchema, workerIdSchema } from '@provisio/hr-ingest-domain';
import { z } from 'zod';

/**
 * One worker's change, as the workers API and the webhook carry it: a delta (absent attributes
 * stay unchanged, null clears one), with the source's time or sequence for stale-update
 * protection.
 */
export const workerChangeSchema = z
  .object({
    sourceTimestamp: z.iso.datetime({ offset: true }).optional().describe('when the source made the change; an older one than stored is refused (409), one later than now + HR_MAX_CLOCK_SKEW (5m) too (400 not-in-future)'),
    sequence: z.number().int().nonnegative().optional().describe('the source change sequence; a lower one than stored is refused (409)'),
    managerWorkerId: workerIdSchema.nullable().optional().describe("the manager's worker id in the same source; null = no manager"),
    attributes: hrAttributesInputSchema,
  })
  .strict();

export type WorkerChange = z.output<typeof workerChangeSchema>;
