import { ConfigError, bool, csv, loadConfig, positiveInt, type Env } from '@provisio/config';
import { DEFAULT_MAX_CLOCK_SKEW_MS, DEFAULT_MOVER_ATTRIBUTES, HR_FIELDS, parseDuration, isValidTimeZone, parseMoverAttributes, parseTimeZoneSettings, sourceSchema, type BrakeSettings, type LifecyclePolicy } from '@provisio/hr-ingest-domain';
import { serviceConfigSchema } from '@provisio/platform';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** `0.2`, `20%` or `20 %` → 0.2. */
const share = z
  .string()
  .trim()
  .regex(/^(\d+(\.\d+)?)\s*%?$/, 'expected a share such as 0.2 or 20%')
  .transform((v) => (v.endsWith('%') ? Number(v.replace('%', '').trim()) / 100 : Number(v)))
  .pipe(z.number().min(0, 'at least 0').max(1, 'at most 1 (100 %)'));

/** `300` (seconds), `300s`, `5m`, `1h` → milliseconds. */
const duration = z
  .string()
  .refine((v) => parseDuration(v) !== undefined, 'expected a duration such as 300 (seconds), 300s, 5m or 1h')
  .transform((v) => parseDuration(v)!);

const WHSEC = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
const webhookSecrets = z
  .string()
  .refine((v) => v.split(',').every((s) => WHSEC.test(s.trim())), 'expected whsec_<base64> (Standard Webhooks), comma separated during a rotation');

export const configSchema = serviceConfigSchema(
  { port: 8081, schema: 'hr_ingest' },
  {
    HR_MOVER_ATTRIBUTES: csv.default([...DEFAULT_MOVER_ATTRIBUTES]),
    HR_DEFAULT_TIME_ZONE: z.string().refine(isValidTimeZone, 'expected an IANA time zone name such as Europe/Berlin').default('UTC'),
    /** YAML or JSON: { default, locations: {name: zone}, countries: {CC: zone} } (or HR_TIME_ZONES_FILE). */
    HR_TIME_ZONES: z.string().optional(),
    HR_BRAKE_MAX_LEAVER_SHARE: share.default(0.2),
    HR_BRAKE_MAX_LEAVERS: z.coerce.number().int().nonnegative().optional(),
    HR_SCHEDULER_POLL_MS: positiveInt(1000),
    /**
     * How far a source time (webhook timestamp, sourceTimestamp, a snapshot's asOf) may lie ahead
     * of hr-ingest's clock; later ones are refused (rule not-in-future). Default 5m.
     */
    HR_MAX_CLOCK_SKEW: duration.default(DEFAULT_MAX_CLOCK_SKEW_MS),
    SCIM_SOURCE: sourceSchema.default('scim'),
    /** Public base URL of the SCIM endpoint for resource locations (behind a proxy), e.g. https://hr.example.com/scim/v2. */
    SCIM_BASE_URL: z.string().url().optional(),
    SCIM_BULK_MAX_OPERATIONS: positiveInt(50),
    SCIM_BULK_MAX_PAYLOAD_BYTES: positiveInt(1_048_576),
    SCIM_MAX_RESULTS: positiveInt(200),
    /** JSON: { "<extension URN>:<attribute>": "<canonical attribute>" }, e.g. an Entra custom extension's HireDate → hireDate. */
    SCIM_ATTRIBUTE_MAP: z.string().optional(),
    /** Standard Webhooks secrets (whsec_<base64>), comma separated during a rotation. Unset = webhook receiver off. */
    WEBHOOK_SECRET: webhookSecrets.optional(),
    /**
     * YAML or JSON: { "<source>": "<file holding that source's whsec_ secrets, comma separated during a rotation>" }.
     * A delivery signed with a source's secret may only change workers of that source.
     */
    WEBHOOK_SOURCE_SECRETS: z.string().optional(),
    WEBHOOK_TOLERANCE_SECONDS: positiveInt(300),
    WEBHOOK_MAX_BODY_BYTES: positiveInt(262_144),
    WEBHOOK_REPLAY_RETENTION_HOURS: positiveInt(72),
    CSV_MAX_UPLOAD_BYTES: positiveInt(2_147_483_648),
    CSV_MAX_ROWS: positiveInt(5_000_000),
    SNAPSHOT_BATCH_SIZE: positiveInt(2000),
    SNAPSHOT_APPLY_CONCURRENCY: positiveInt(2),
    SNAPSHOT_RETENTION_DAYS: positiveInt(30),
    SNAPSHOT_PROCESSOR: bool(true),
  },
);

export type HrIngestConfig = z.infer<typeof configSchema>;

function parseStructured(text: string, variable: string, problems: string[]): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    problems.push(`${variable}: not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** A webhook secret: `source` null = any source (WEBHOOK_SECRET), else only that source's workers. */
export interface WebhookSigner {
  key: Buffer;
  source: string | null;
}

const keyOf = (secret: string) => Buffer.from(secret.trim().slice('whsec_'.length), 'base64');

/** WEBHOOK_SECRET (any source) and the per-source secret files of WEBHOOK_SOURCE_SECRETS. */
function webhookSigners(c: HrIngestConfig, problems: string[]): WebhookSigner[] {
  const out: WebhookSigner[] = (c.WEBHOOK_SECRET ?? '')
    .split(',')
    .filter((x) => x.trim())
    .map((x) => ({ key: keyOf(x), source: null }));
  if (!c.WEBHOOK_SOURCE_SECRETS) return out;
  const raw = parseStructured(c.WEBHOOK_SOURCE_SECRETS, 'WEBHOOK_SOURCE_SECRETS', problems);
  if (raw === undefined) return out;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('WEBHOOK_SOURCE_SECRETS: expected an object of "<source>": "<secret file>"');
    return out;
  }
  for (const [source, file] of Object.entries(raw as Record<string, unknown>)) {
    if (!sourceSchema.safeParse(source).success) problems.push(`WEBHOOK_SOURCE_SECRETS: ${source}: not a source name (lower-case letters, digits and -)`);
    else if (typeof file !== 'string' || !file) problems.push(`WEBHOOK_SOURCE_SECRETS: ${source}: expected the path of a secret file`);
    else {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        problems.push(`WEBHOOK_SOURCE_SECRETS: ${source}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
        continue;
      }
      const secrets = text.split(',').map((x) => x.trim()).filter(Boolean);
      // The message never repeats the file's content.
      if (secrets.length === 0 || !secrets.every((x) => WHSEC.test(x))) problems.push(`WEBHOOK_SOURCE_SECRETS: ${source}: ${file} must hold whsec_<base64> secrets, comma separated`);
      else for (const x of secrets) out.push({ key: keyOf(x), source });
    }
  }
  return out;
}

/** Settings that need more than one variable (or parsing), derived once at start. */
export function deriveSettings(c: HrIngestConfig) {
  const problems: string[] = [];
  const movers = parseMoverAttributes(c.HR_MOVER_ATTRIBUTES);
  for (const e of movers.errors) problems.push(`HR_MOVER_ATTRIBUTES: ${e.value}: ${e.message}`);
  const zonesInput = c.HR_TIME_ZONES ? parseStructured(c.HR_TIME_ZONES, 'HR_TIME_ZONES', problems) : undefined;
  const zones = parseTimeZoneSettings(zonesInput, c.HR_DEFAULT_TIME_ZONE);
  for (const e of zones.errors) problems.push(`HR_TIME_ZONES: ${e.field}: ${e.message}`);
  const scimAttributeMap = new Map<string, string>();
  if (c.SCIM_ATTRIBUTE_MAP) {
    const raw = parseStructured(c.SCIM_ATTRIBUTE_MAP, 'SCIM_ATTRIBUTE_MAP', problems);
    if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
      problems.push('SCIM_ATTRIBUTE_MAP: expected an object of "<urn>:<attribute>": "<canonical attribute>"');
    } else if (raw) {
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (!HR_FIELDS.includes(v as never) && v !== 'managerWorkerId') problems.push(`SCIM_ATTRIBUTE_MAP: ${k}: ${String(v)} is not a canonical attribute (${HR_FIELDS.join(', ')}, managerWorkerId)`);
        else scimAttributeMap.set(k.toLowerCase(), String(v));
      }
    }
  }
  const signers = webhookSigners(c, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const policy: LifecyclePolicy = { moverAttributes: movers.set, timeZones: zones.settings };
  const brake: BrakeSettings = { maxLeaverShare: c.HR_BRAKE_MAX_LEAVER_SHARE, maxLeaverCount: c.HR_BRAKE_MAX_LEAVERS };
  // A closure, so the key bytes never show up when the configuration is logged.
  return { ...c, policy, brake, scimAttributeMap, webhookSigners: (): readonly WebhookSigner[] => signers };
}

export type HrIngestSettings = ReturnType<typeof deriveSettings>;

export function loadHrIngestConfig(env: Env = process.env): HrIngestSettings {
  return deriveSettings(loadConfig(configSchema, env));
}
