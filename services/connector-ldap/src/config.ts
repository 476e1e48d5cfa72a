import { loadConfig, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import type { z } from 'zod';

export const configSchema = serviceConfigSchema({ port: 8083, schema: 'connector_ldap' }, {});

export type ConnectorLdapConfig = z.infer<typeof configSchema>;

export function loadConnectorLdapConfig(env: Env = process.env): ConnectorLdapConfig {
  return loadConfig(configSchema, env);
}
