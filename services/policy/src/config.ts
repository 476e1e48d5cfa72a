import { loadConfig, positiveInt, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import { TimeZone } from '@provisio/policy-domain';
import { z } from 'zod';

export const configSchema = serviceConfigSchema(
  { port: 8082, schema: 'policy' },
  {
    /** A policy file or a folder of *.yaml files; default: the bundled sample policy. */
    POLICY_PATH: z.string().min(1).optional(),
    /** Persons per transaction when a policy change re-evaluates the population. */
    POLICY_REEVALUATION_BATCH: positiveInt(500),
    /** Re-evaluation transactions in flight at once (per replica). */
    POLICY_REEVALUATION_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
    /** Outbox rows the relay publishes to Kafka per pass. */
    POLICY_OUTBOX_BATCH: z.coerce.number().int().min(1).max(10_000).default(2000),
    /** Pause between re-evaluation batches while live events are waiting (ms). */
    POLICY_REEVALUATION_PAUSE_MS: z.coerce.number().int().min(0).max(10_000).default(20),
    /** How often the timed-work scheduler looks for due jobs (ms). */
    POLICY_SCHEDULER_POLL_MS: positiveInt(1000),
    /**
     * Time zone of HR dates without an offset (hire date 2026-03-01 = midnight there), of date
     * conditions with absolute dates and of formatDate: an IANA name (Europe/Berlin) or UTC.
     */
    POLICY_TIME_ZONE: z
      .string()
      .default('UTC')
      .refine((v) => TimeZone.isValid(v), { message: 'must be an IANA time zone name such as Europe/Berlin, or UTC' }),
    /** Days a finished simulation and its changes are kept. */
    POLICY_SIMULATION_RETENTION_DAYS: positiveInt(7),
  },
);

export type PolicyConfig = z.infer<typeof configSchema>;

export function loadPolicyConfig(env: Env = process.env): PolicyConfig {
  return loadConfig(configSchema, env);
}
