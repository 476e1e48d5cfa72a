import { loadConfig, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import type { z } from 'zod';

export const configSchema = serviceConfigSchema({ port: 8086, schema: 'audit' }, {});

export type AuditConfig = z.infer<typeof configSchema>;

export function loadAuditConfig(env: Env = process.env): AuditConfig {
  return loadConfig(configSchema, env);
}
