import { authEnv, refineAuth } from '@provisio/auth';
import { databaseEnv, httpEnv, kafkaEnv, logEnv, positiveInt, refineKafka } from '@provisio/config';
import { z } from 'zod';

/**
 * The environment every service reads (Kafka, database, HTTP, logging, authentication) plus the
 * service's own variables. Keys are environment variable names.
 */
function baseShape(defaults: { port: number; schema: string }) {
  return {
      ...kafkaEnv,
      KAFKA_DEFAULT_PARTITIONS: positiveInt(3),
      ...databaseEnv,
      DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'lower-case SQL identifier').default(defaults.schema),
      DATABASE_MIGRATION_URL: z.string().optional(),
      ...httpEnv(defaults.port),
      ...logEnv,
      ...authEnv,
  };
}

export function serviceConfigSchema<T extends z.ZodRawShape>(defaults: { port: number; schema: string }, own: T) {
  return z
    .object(baseShape(defaults))
    .extend(own)
    .superRefine((c, ctx) => {
      refineKafka(c, ctx);
      refineAuth(c, ctx);
    });
}

export type ServiceConfig = z.infer<z.ZodObject<ReturnType<typeof baseShape>>>;
