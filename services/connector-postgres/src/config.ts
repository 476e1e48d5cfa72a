import { loadConfig, positiveInt, type Env } from '@provisio/config';
import { secretSchema, targetsEnv } from '@provisio/connector-kit';
import { serviceConfigSchema } from '@provisio/platform';
import { z } from 'zod';

/** Settings of one PostgreSQL target (next to the kit's common ones: id, concurrency, rateLimit, breaker, reconcile, ...). */
export function postgresTargetShape(env: Env) {
  return {
    /** Connection URL of the PostgreSQL cluster whose roles this target manages (a secret: it carries credentials). */
    url: secretSchema(env).pipe(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')),
    /** Marker written as the role's COMMENT; roles without it are never touched. */
    markerPrefix: z.string().min(1).default('provisio:managed person='),
    disable: z.object({ terminateSessions: z.boolean().default(true) }).strict().prefault({}),
    /**
     * Creates of concurrent commands committed together: at most `maxInFlight` create transactions
     * at a time, each with up to `maxRoles` roles (any error: each role again on its own; a lock
     * wait longer than `lockTimeoutMs`: the same). `maxRoles: 1` gives every create its own transaction.
     */
    createBatch: z
      .object({
        maxRoles: z.number().int().min(1).max(500).default(50),
        maxInFlight: z.number().int().min(1).max(64).default(2),
        /** How long a shared create transaction waits for a lock before its roles go one by one. */
        lockTimeoutMs: z.number().int().min(1).max(60_000).default(1_000),
      })
      .strict()
      .prefault({}),
    delete: z
      .object({
        /** What happens to objects the role owns in the target database: refuse to drop, REASSIGN OWNED to another role, or DROP OWNED. */
        ownedObjects: z.enum(['refuse', 'reassign', 'drop']).default('refuse'),
        reassignTo: z.string().min(1).optional(),
        terminateSessions: z.boolean().default(true),
      })
      .strict()
      .prefault({})
      .refine((d) => d.ownedObjects !== 'reassign' || d.reassignTo !== undefined, { message: 'reassignTo is required when ownedObjects is "reassign"' }),
  };
}

function schemaFor(env: Env) {
  return serviceConfigSchema(
    { port: 8085, schema: 'connector_postgres' },
    {
      /** Targets as JSON or YAML (or CONNECTOR_TARGETS_FILE). */
      CONNECTOR_TARGETS: targetsEnv(postgresTargetShape(env)).optional(),
      /** Shorthand for one target: the PostgreSQL whose roles this connector manages. */
      TARGET_POSTGRES_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
      TARGET_POSTGRES_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/).default('postgres'),
      TARGET_POSTGRES_POOL_MAX: positiveInt(8),
    },
  ).superRefine((c, ctx) => {
    // A connector deployed without its targets would fail every command as UNKNOWN_TARGET.
    if (c.CONNECTOR_TARGETS === undefined && c.TARGET_POSTGRES_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['CONNECTOR_TARGETS'], message: 'not set: give the targets (CONNECTOR_TARGETS, a JSON or YAML list, or CONNECTOR_TARGETS_FILE) or one target as TARGET_POSTGRES_URL; "[]" serves none' });
    }
    if (c.TARGET_POSTGRES_URL && c.CONNECTOR_TARGETS?.some((t) => t.id === c.TARGET_POSTGRES_ID)) {
      ctx.addIssue({ code: 'custom', path: ['TARGET_POSTGRES_ID'], message: `target id "${c.TARGET_POSTGRES_ID}" is also defined in CONNECTOR_TARGETS` });
    }
  });
}

/** The schema (secrets given as { env } resolve against the process environment); deployment checks read its keys. */
export const configSchema = schemaFor(process.env);

export type ConnectorPostgresConfig = z.infer<ReturnType<typeof schemaFor>>;
export type PostgresTargetConfig = NonNullable<ConnectorPostgresConfig['CONNECTOR_TARGETS']>[number];

export function loadConnectorPostgresConfig(env: Env = process.env): ConnectorPostgresConfig {
  return loadConfig(schemaFor(env), env);
}

/** Every configured target, the TARGET_POSTGRES_* shorthand included. */
export function postgresTargets(config: ConnectorPostgresConfig, env: Env = {}): PostgresTargetConfig[] {
  const list = [...(config.CONNECTOR_TARGETS ?? [])];
  if (config.TARGET_POSTGRES_URL) {
    const one = targetsEnv(postgresTargetShape(env)).parse(JSON.stringify([{ id: config.TARGET_POSTGRES_ID, url: config.TARGET_POSTGRES_URL, concurrency: config.TARGET_POSTGRES_POOL_MAX }]));
    list.push(...one);
  }
  return list;
}
