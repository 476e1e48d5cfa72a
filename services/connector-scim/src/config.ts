import { loadConfig, type Env } from '@provisio/config';
import { secretSchema, targetsEnv } from '@provisio/connector-kit';
import { serviceConfigSchema } from '@provisio/platform';
import { z } from 'zod';

/** Quirk profiles of real SCIM services; `quirks` entries override the profile's. */
export const QUIRK_PROFILES = {
  /** RFC 7644 as written. Falls back to PUT by itself when PATCH answers 405/501. */
  generic: { update: 'patch', capitalizedOps: false },
  /** Services that only replace whole resources. */
  'put-only': { update: 'put', capitalizedOps: false },
  /** Older Azure AD / Entra style: PatchOp names capitalised (Add, Replace, Remove). */
  'capitalized-ops': { update: 'patch', capitalizedOps: true },
} as const;

/** Settings of one SCIM 2.0 service provider (next to the kit's common ones). */
export function scimTargetShape(env: Env) {
  const secret = secretSchema(env);
  return {
    /** The SCIM base URL, e.g. https://app.example.com/scim/v2 */
    baseUrl: z.url({ protocol: /^https?$/ }),
    auth: z.discriminatedUnion('type', [
      z.object({ type: z.literal('bearer'), token: secret }).strict(),
      z
        .object({
          type: z.literal('oauth2'),
          tokenUrl: z.url({ protocol: /^https?$/ }),
          clientId: z.string().min(1),
          clientSecret: secret,
          scope: z.string().optional(),
          /** client_secret_basic (default) or client_secret_post. */
          clientAuthentication: z.enum(['basic', 'body']).default('basic'),
        })
        .strict(),
    ]),
    profile: z.enum(Object.keys(QUIRK_PROFILES) as [keyof typeof QUIRK_PROFILES, ...(keyof typeof QUIRK_PROFILES)[]]).default('generic'),
    quirks: z
      .object({
        update: z.enum(['patch', 'put']).optional(),
        capitalizedOps: z.boolean().optional(),
      })
      .strict()
      .prefault({}),
    /** Take over an existing user with the desired userName that has no externalId (default: yes, SCIM apps usually pre-exist). */
    adoptExisting: z.boolean().default(true),
    /**
     * Allow http:// for baseUrl and tokenUrl. Only for tests and local development: over plain
     * HTTP the bearer token, the OAuth2 client secret and every person's data travel unencrypted.
     */
    allowInsecureHttp: z.boolean().default(false),
    /** Extra headers every request carries (e.g. a tenant header). Not for secrets. */
    headers: z.record(z.string(), z.string()).default({}),
  };
}

function schemaFor(env: Env) {
  return serviceConfigSchema(
    { port: 8084, schema: 'connector_scim' },
    {
      /** SCIM service providers as JSON or YAML (or CONNECTOR_TARGETS_FILE); required ("[]" serves none). */
      CONNECTOR_TARGETS: targetsEnv(scimTargetShape(env)),
    },
  ).superRefine((c, ctx) => {
    c.CONNECTOR_TARGETS.forEach((t, i) => {
      for (const problem of insecureUrls(t)) ctx.addIssue({ code: 'custom', path: ['CONNECTOR_TARGETS', i, ...problem.path], message: problem.message });
    });
  });
}

/** http:// URLs of a target that does not allow them (tokens and client secrets must not travel unencrypted). */
export function insecureUrls(t: { id: string; baseUrl: string; auth: { type: string; tokenUrl?: string }; allowInsecureHttp: boolean }): { path: string[]; message: string }[] {
  if (t.allowInsecureHttp) return [];
  const out: { path: string[]; message: string }[] = [];
  const message = 'must be https:// (http:// sends the token and client secret unencrypted; allowInsecureHttp: true is for tests and local development only)';
  if (/^http:/i.test(t.baseUrl)) out.push({ path: ['baseUrl'], message });
  if (t.auth.tokenUrl !== undefined && /^http:/i.test(t.auth.tokenUrl)) out.push({ path: ['auth', 'tokenUrl'], message });
  return out;
}

/** The schema (secrets given as { env } resolve against the process environment); deployment checks read its keys. */
export const configSchema = schemaFor(process.env);

export type ConnectorScimConfig = z.infer<ReturnType<typeof schemaFor>>;
export type ScimTargetConfig = ConnectorScimConfig['CONNECTOR_TARGETS'][number];

export function loadConnectorScimConfig(env: Env = process.env): ConnectorScimConfig {
  return loadConfig(schemaFor(env), env);
}
