import { loadConfig, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import type { z } from 'zod';

export const configSchema = serviceConfigSchema({ port: 8084, schema: 'connector_scim' }, {});

export type ConnectorScimConfig = z.infer<typeof configSchema>;

export function loadConnectorScimConfig(env: Env = process.env): ConnectorScimConfig {
  return loadConfig(configSchema, env);
}
