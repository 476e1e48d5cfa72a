import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './config-error.js';

export type Env = Record<string, string | undefined>;

/**
 * Reads `NAME_FILE` variables (Kubernetes/Docker secrets mounted as files) into `NAME`, for the
 * names the service knows, unless `NAME` is set too.
 */
export function resolveFileVariables(env: Env, known: readonly string[]): Env {
  const out: Env = { ...env };
  for (const target of known) {
    const key = `${target}_FILE`;
    const value = env[key];
    if (!value || (out[target] !== undefined && out[target] !== '')) continue;
    try {
      out[target] = readFileSync(value, 'utf8').trim();
    } catch (e) {
      throw new ConfigError([`${key}: cannot read file (${(e as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
  }
  return out;
}

/**
 * Validates the environment against a schema whose keys are environment variable names and
 * returns the typed, frozen result. Empty strings count as unset.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Env = process.env): z.infer<S> {
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  const cleaned = Object.fromEntries(Object.entries(resolveFileVariables(env, known)).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

const SECRET_KEY = /(PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL|_KEY$|^KEY$|DATABASE_URL|DSN)/i;

/** A printable view of a configuration: secret-looking keys masked, URLs stripped of credentials. */
export function redactConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = redactConfig(v as Record<string, unknown>);
    else if (SECRET_KEY.test(k) && typeof v === 'string') out[k] = stripCredentials(v);
    else out[k] = v;
  }
  return out;
}

function stripCredentials(value: string): string {
  try {
    const u = new URL(value);
    if (u.password || u.username) {
      u.password = u.password ? '***' : '';
      return u.toString();
    }
  } catch {
    /* not a URL */
  }
  return '***';
}
