import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { ConfigError, bool, csv, loadConfig, positiveInt, type Env } from '@provisio/config';
import { serviceConfigSchema } from '@provisio/platform';
import { z } from 'zod';

const FORMATS = ['ocsf', 'cef', 'ecs'] as const;

export const configSchema = serviceConfigSchema(
  { port: 8086, schema: 'audit' },
  {
    /** Ed25519 private key (PKCS#8 PEM) that signs checkpoints. */
    AUDIT_SIGNING_KEY: z.string({ error: 'required: an Ed25519 private key (PEM) that signs checkpoints' }),
    /** More Ed25519 public keys (PEM, concatenated) whose checkpoints verify, e.g. after a key rotation. */
    AUDIT_TRUSTED_KEYS: z.string().optional(),
    /** Key-encryption key for per-person data keys: 32 bytes, base64. */
    AUDIT_PII_KEY: z.string({ error: 'required: 32 random bytes, base64 (key-encryption key of the per-person keys)' }),
    AUDIT_CHECKPOINT_INTERVAL_MS: positiveInt(30_000),
    /** What is checked before a checkpoint is signed: links (positions and hash links; cheap) or full (every content hash too). */
    AUDIT_CHECKPOINT_VERIFY: z.enum(['links', 'full']).default('links'),
    AUDIT_SIEM_FORMATS: csv.pipe(z.array(z.enum(FORMATS)).min(1)).default(['ocsf']),
    AUDIT_SIEM_PRIVILEGE_TARGET_KINDS: csv.default(['postgres']),
    AUDIT_SIEM_POLL_MS: positiveInt(500),
    /** Keep this many whole months of records; older monthly partitions are dropped by the service (needs DATABASE_MIGRATION_URL; else schedule `provisio-audit retention`). */
    AUDIT_RETENTION_MONTHS: z.coerce.number().int().min(1).optional(),
    /** Refuse to start when the runtime database role could change or delete audit rows. */
    AUDIT_REQUIRE_LEAST_PRIVILEGE: bool(false),
    /**
     * SASL credentials of the dead-letter replay producer (principal provisio-audit-replay, the
     * only audit principal allowed to write pipeline topics). Same brokers, TLS and mechanism as
     * KAFKA_*; without them, on a SASL cluster, replays answer 503.
     */
    KAFKA_REPLAY_SASL_USERNAME: z.string().optional(),
    KAFKA_REPLAY_SASL_PASSWORD: z.string().optional(),
  },
);

export type AuditEnvConfig = z.infer<typeof configSchema>;

export interface AuditKeys {
  signingKey: KeyObject;
  trustedPublicKeys: KeyObject[];
  piiKek: Buffer;
}

export type AuditConfig = AuditEnvConfig;

const PEM_BLOCK = /-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g;

/** The Ed25519 public keys of AUDIT_TRUSTED_KEYS (PEM, concatenated); problems are appended to `problems`. */
export function parseTrustedKeys(text: string | undefined, problems: string[]): KeyObject[] {
  const keys: KeyObject[] = [];
  const before = problems.length;
  for (const [i, pem] of (text?.match(PEM_BLOCK) ?? []).entries()) {
    try {
      const k = createPublicKey(pem);
      if (k.asymmetricKeyType !== 'ed25519') problems.push(`AUDIT_TRUSTED_KEYS: key ${i + 1} must be Ed25519, got ${k.asymmetricKeyType ?? 'another key type'}`);
      else keys.push(k);
    } catch {
      problems.push(`AUDIT_TRUSTED_KEYS: key ${i + 1} is not a PEM public key`);
    }
  }
  if (text && keys.length === 0 && problems.length === before) problems.push('AUDIT_TRUSTED_KEYS: no PEM public key found');
  return keys;
}

/** Parses the key material; errors name the variable and the rule, never the value. */
export function parseAuditKeys(c: Pick<AuditEnvConfig, 'AUDIT_SIGNING_KEY' | 'AUDIT_TRUSTED_KEYS' | 'AUDIT_PII_KEY'>): AuditKeys {
  const problems: string[] = [];
  let signingKey: KeyObject | undefined;
  try {
    signingKey = createPrivateKey(c.AUDIT_SIGNING_KEY);
    if (signingKey.asymmetricKeyType !== 'ed25519') problems.push(`AUDIT_SIGNING_KEY: must be an Ed25519 private key, got ${signingKey.asymmetricKeyType ?? 'another key type'}`);
  } catch {
    problems.push('AUDIT_SIGNING_KEY: not a PEM private key');
  }
  const trustedPublicKeys = parseTrustedKeys(c.AUDIT_TRUSTED_KEYS, problems);
  const piiKek = Buffer.from(c.AUDIT_PII_KEY, 'base64');
  if (piiKek.length !== 32 || piiKek.toString('base64').replace(/=+$/, '') !== c.AUDIT_PII_KEY.trim().replace(/=+$/, '')) problems.push('AUDIT_PII_KEY: must be exactly 32 bytes, base64-encoded');
  if (problems.length > 0 || !signingKey) throw new ConfigError(problems);
  return { signingKey, trustedPublicKeys: [createPublicKey(signingKey), ...trustedPublicKeys], piiKek };
}

/**
 * Validated configuration. Key material is checked here (start-up fails naming the variable) but
 * kept as text: the parsed keys are built where they are used, never in an object that might be
 * logged.
 */
export function loadAuditConfig(env: Env = process.env): AuditConfig {
  const c = loadConfig(configSchema, env);
  parseAuditKeys(c);
  if (c.AUDIT_RETENTION_MONTHS !== undefined && c.DATABASE_MIGRATION_URL === undefined) {
    // Dropping partitions needs the owner; without its credentials retention is a separate job.
    throw new ConfigError(['AUDIT_RETENTION_MONTHS: in-process retention needs DATABASE_MIGRATION_URL (the owner); without it run `provisio-audit retention --keep-months N` as a scheduled job']);
  }
  const replayProblems: string[] = [];
  if (Boolean(c.KAFKA_REPLAY_SASL_USERNAME) !== Boolean(c.KAFKA_REPLAY_SASL_PASSWORD)) {
    replayProblems.push('KAFKA_REPLAY_SASL_USERNAME and KAFKA_REPLAY_SASL_PASSWORD: the replay principal needs both, set both or neither');
  }
  if (c.KAFKA_REPLAY_SASL_USERNAME && !c.KAFKA_SASL_MECHANISM) replayProblems.push('KAFKA_REPLAY_SASL_USERNAME: replay credentials need KAFKA_SASL_MECHANISM (the replay producer uses the same mechanism as the service)');
  if (c.KAFKA_REPLAY_SASL_USERNAME && c.KAFKA_REPLAY_SASL_USERNAME === c.KAFKA_SASL_USERNAME) {
    replayProblems.push('KAFKA_REPLAY_SASL_USERNAME: must be the replay principal, not the service principal KAFKA_SASL_USERNAME');
  }
  if (replayProblems.length > 0) throw new ConfigError(replayProblems);
  return c;
}
