import { loadConfig, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import type { z } from 'zod';

export const configSchema = serviceConfigSchema({ port: 8082, schema: 'policy' }, {});

export type PolicyConfig = z.infer<typeof configSchema>;

export function loadPolicyConfig(env: Env = process.env): PolicyConfig {
  return loadConfig(configSchema, env);
}
