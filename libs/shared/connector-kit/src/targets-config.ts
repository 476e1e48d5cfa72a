import { readFileSync } from 'node:fs';
import type { Env } from '@provisio/config';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * A secret in a target definition: `{ "file": "/run/secrets/x" }` (mounted secret),
 * `{ "env": "NAME" }` (another variable, itself allowed as NAME_FILE) or, for development only,
 * the literal value. Resolved when the configuration is loaded; never logged.
 */
export function secretSchema(env: Env) {
  return z
    .union([z.string().min(1), z.object({ file: z.string().min(1) }).strict(), z.object({ env: z.string().min(1) }).strict()])
    .transform((ref, ctx): string => {
      if (typeof ref === 'string') return ref;
      if ('file' in ref) {
        try {
          return readFileSync(ref.file, 'utf8').trim();
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: `cannot read secret file ${ref.file} (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
          return z.NEVER;
        }
      }
      const direct = env[ref.env];
      if (direct) return direct;
      const file = env[`${ref.env}_FILE`];
      if (file) {
        try {
          return readFileSync(file, 'utf8').trim();
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: `cannot read ${ref.env}_FILE (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
          return z.NEVER;
        }
      }
      ctx.addIssue({ code: 'custom', message: `environment variable ${ref.env} (or ${ref.env}_FILE) is not set` });
      return z.NEVER;
    });
}

export type SecretSchema = ReturnType<typeof secretSchema>;

const regex = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

/** Settings every target has, whatever its kind. Kind-specific settings are added next to them. */
export const commonTargetShape = {
  /** The id policies use in commands (`target`). */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, . _ - (at most 63)'),
  /** Calls in flight to this target at most. */
  concurrency: z.number().int().positive().max(512).default(8),
  /** Token bucket: sustained calls per second and burst. Absent = unlimited. */
  rateLimit: z.object({ perSecond: z.number().positive(), burst: z.number().int().positive().optional() }).strict().optional(),
  /** One target call longer than this counts as a timeout (transient). */
  callTimeoutMs: z.number().int().positive().default(30_000),
  retry: z
    .object({
      initialMs: z.number().int().positive().default(250),
      maxMs: z.number().int().positive().default(30_000),
      multiplier: z.number().min(1).default(2),
      /** Transient failures of one command, while the target answers other calls, before it fails for good (dead letter) instead of stalling its partition. */
      maxAttemptsWhileHealthy: z.number().int().min(2).default(20),
    })
    .strict()
    .prefault({}),
  /** Quarantine: opens after N failures in a row, or a failure share over a window. */
  breaker: z
    .object({
      consecutiveFailures: z.number().int().positive().default(5),
      failureRate: z.number().gt(0).max(1).default(0.5),
      minimumCalls: z.number().int().positive().default(20),
      windowSeconds: z.number().positive().default(60),
      openSeconds: z.number().positive().default(5),
      maxOpenSeconds: z.number().positive().default(60),
    })
    .strict()
    .prefault({}),
  groups: z
    .object({
      /** Remove memberships a command does not list (only in managed groups). */
      removeUnlisted: z.boolean().default(true),
      /** Groups whose memberships Provisio manages (regular expression on the group name); default all. */
      managedPattern: regex.optional(),
    })
    .strict()
    .prefault({}),
  reconcile: z
    .object({
      /** Scheduled reconciliation every N minutes; 0 = only on demand. */
      intervalMinutes: z.number().nonnegative().default(0),
      mode: z.enum(['report', 'correct']).default('report'),
      /** What a correcting run does with accounts marked as Provisio's that no person wants. */
      orphans: z.enum(['report', 'disable', 'delete']).default('report'),
      /**
       * Safety limit of orphan corrections per run: above this many orphans, or above this share
       * of the managed accounts the run saw, the run reports orphans but corrects none (an empty
       * or lost applied-state table must not disable or delete every managed account).
       */
      maxOrphanCorrections: z.number().int().nonnegative().default(10),
      maxOrphanShare: z.number().min(0).max(1).default(0.1),
      pageSize: z.number().int().positive().max(10_000).default(500),
    })
    .strict()
    .prefault({}),
};

export type CommonTargetConfig = z.infer<z.ZodObject<typeof commonTargetShape>>;

/**
 * The `CONNECTOR_TARGETS` variable (or CONNECTOR_TARGETS_FILE): a JSON or YAML list of target
 * definitions (or `{ targets: [...] }`), each the common settings plus the kind's own. Problems
 * are reported per target and field, e.g. `targets[1].url: Invalid URL`.
 */
export function targetsEnv<S extends z.ZodRawShape>(kindShape: S) {
  const target = z.object({ ...commonTargetShape, ...kindShape }).strict();
  // Required: a connector deployed without its targets would fail every command as UNKNOWN_TARGET.
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'not set: the targets this connector serves, as a JSON or YAML list (or CONNECTOR_TARGETS_FILE); "[]" serves none'
          : undefined,
    })
    .transform((text, ctx): z.infer<typeof target>[] => {
      let raw: unknown;
      try {
        raw = parseYaml(text);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `not valid JSON or YAML: ${(e as Error).message.split('\n')[0]}` });
        return z.NEVER;
      }
      const list = Array.isArray(raw) ? raw : (raw as { targets?: unknown } | null)?.targets;
      if (!Array.isArray(list)) {
        ctx.addIssue({ code: 'custom', message: 'expected a list of targets (or an object with a "targets" list)' });
        return z.NEVER;
      }
      const parsed = z.array(target).safeParse(list);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const [index, ...rest] = issue.path;
          const where = `targets[${String(index)}]${rest.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
          ctx.addIssue({ code: 'custom', message: `${where}: ${issue.message}` });
        }
        return z.NEVER;
      }
      const ids = new Set<string>();
      for (const t of parsed.data as { id: string }[]) {
        if (ids.has(t.id)) ctx.addIssue({ code: 'custom', message: `targets: id "${t.id}" is defined twice` });
        ids.add(t.id);
      }
      return parsed.data;
    });
}
