import { loadConfig, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import type { z } from 'zod';

export const configSchema = serviceConfigSchema({ port: 8081, schema: 'hr_ingest' }, {});

export type HrIngestConfig = z.infer<typeof configSchema>;

export function loadHrIngestConfig(env: Env = process.env): HrIngestConfig {
  return loadConfig(configSchema, env);
}
