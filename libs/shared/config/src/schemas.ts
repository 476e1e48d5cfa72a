import { z } from 'zod';

/** Reusable pieces of service configuration; keys are environment variable names. */
export const bool = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(defaultValue ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const port = (defaultValue: number) => z.coerce.number().int().min(0).max(65535).default(defaultValue);

export const positiveInt = (defaultValue: number) => z.coerce.number().int().positive().default(defaultValue);

export const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export const kafkaEnv = {
  KAFKA_BROKERS: csv.pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).min(1)),
  KAFKA_CLIENT_ID: z.string().optional(),
  /** Prefix for every topic name; lets several stacks or test runs share one cluster. */
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/).default(''),
  KAFKA_SSL: bool(false),
  KAFKA_SSL_CA_FILE: z.string().optional(),
  KAFKA_SSL_CERT_FILE: z.string().optional(),
  KAFKA_SSL_KEY_FILE: z.string().optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: bool(true),
  KAFKA_SASL_MECHANISM: z.enum(['scram-sha-512', 'scram-sha-256', 'plain']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /**
   * Lets SASL run without TLS (credentials and data in clear text on the network). For local
   * testing against a SASL_PLAINTEXT listener only; never in a deployment.
   */
  KAFKA_SASL_ALLOW_PLAINTEXT: bool(false),
  /**
   * Consumer group session timeout: a consumer that sends no heartbeat for this long is removed
   * from its group and its partitions are given to others (a rebalance). The broker accepts only
   * values between its group.min.session.timeout.ms (6000 by default) and
   * group.max.session.timeout.ms (1800000 by default).
   */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(6000, "at least 6000 (milliseconds; the broker's default group.min.session.timeout.ms)")
    .max(1_800_000, "at most 1800000 (milliseconds; the broker's default group.max.session.timeout.ms)")
    .default(30000),
};

export const databaseEnv = {
  DATABASE_URL: z.string({ error: 'required (a postgres:// URL)' }).regex(/^postgres(ql)?:\/\/\S+$/, 'expected a postgres:// URL'),
  DATABASE_POOL_MAX: positiveInt(10),
};

export const httpEnv = (defaultPort: number) => ({
  HTTP_PORT: port(defaultPort),
  HTTP_HOST: z.string().default('0.0.0.0'),
});

export const logEnv = {
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * Rules spanning several Kafka variables, checked after parsing: SASL needs both credentials, and
 * SASL runs over TLS (KAFKA_SSL, or a TLS file, which turns TLS on as well) unless
 * KAFKA_SASL_ALLOW_PLAINTEXT says otherwise: SCRAM would still expose the session and PLAIN the
 * password itself.
 */
export function refineKafka(
  cfg: {
    KAFKA_SASL_MECHANISM?: string | undefined;
    KAFKA_SASL_USERNAME?: string | undefined;
    KAFKA_SASL_PASSWORD?: string | undefined;
    KAFKA_SSL?: boolean | undefined;
    KAFKA_SSL_CA_FILE?: string | undefined;
    KAFKA_SSL_CERT_FILE?: string | undefined;
    KAFKA_SSL_KEY_FILE?: string | undefined;
    KAFKA_SASL_ALLOW_PLAINTEXT?: boolean | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (cfg.KAFKA_SASL_MECHANISM && (!cfg.KAFKA_SASL_USERNAME || !cfg.KAFKA_SASL_PASSWORD)) {
    ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_USERNAME'], message: 'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set' });
  }
  const tls = Boolean(cfg.KAFKA_SSL || cfg.KAFKA_SSL_CA_FILE || cfg.KAFKA_SSL_CERT_FILE || cfg.KAFKA_SSL_KEY_FILE);
  if (cfg.KAFKA_SASL_MECHANISM && !tls && !cfg.KAFKA_SASL_ALLOW_PLAINTEXT) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_SASL_MECHANISM'],
      message: 'SASL without TLS would send credentials and data in clear text: set KAFKA_SSL=true (with KAFKA_SSL_CA_FILE for a private CA), or KAFKA_SASL_ALLOW_PLAINTEXT=true for local testing only',
    });
  }
}
