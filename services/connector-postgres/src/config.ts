import { loadConfig, positiveInt, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import { z } from 'zod';

export const configSchema = serviceConfigSchema(
  { port: 8085, schema: 'connector_postgres' },
  {
    /** The PostgreSQL whose roles this connector manages (not the connector's own database). */
    TARGET_POSTGRES_URL: z.string().startsWith('postgres'),
    TARGET_POSTGRES_ID: z.string().default('postgres'),
    TARGET_POSTGRES_POOL_MAX: positiveInt(4),
  },
);

export type ConnectorPostgresConfig = z.infer<typeof configSchema>;

export function loadConnectorPostgresConfig(env: Env = process.env): ConnectorPostgresConfig {
  return loadConfig(configSchema, env);
}
