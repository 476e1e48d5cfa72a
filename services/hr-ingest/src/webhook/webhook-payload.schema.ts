import { hrAttributesInputSchema, sourceSchema, workerIdSchema } from '@provisio/hr-ingest-domain';
import { z } from 'zod';

/**
 * The JSON body of POST /v1/events, in the Standard Webhooks payload convention (type,
 * timestamp, data). `data` describes one worker's change as a delta.
 */
export const webhookPayloadSchema = z
  .object({
    type: z.enum(['worker.created', 'worker.updated', 'worker.terminated']).describe('worker.terminated sets status terminated (with data.attributes.terminationDate, if any)'),
    timestamp: z.iso.datetime({ offset: true }).describe('when the change happened at the source; older than the stored state = stale (409); later than now + HR_MAX_CLOCK_SKEW (5m) = 400 not-in-future'),
    data: z
      .object({
        source: sourceSchema,
        workerId: workerIdSchema,
        sequence: z.number().int().nonnegative().optional(),
        managerWorkerId: workerIdSchema.nullable().optional(),
        attributes: hrAttributesInputSchema.default({}),
      })
      .strict(),
  })
  .strict();

export type WebhookPayload = z.output<typeof webhookPayloadSchema>;
