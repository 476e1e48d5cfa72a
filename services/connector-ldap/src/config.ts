import { loadConfig, type Env } from '@provisio/config';
import { secretSchema, targetsEnv } from '@provisio/connector-kit';
import { serviceConfigSchema } from '@provisio/platform';
import { z } from 'zod';

const dn = z.string().min(3).regex(/=/, 'must be a DN such as ou=people,dc=example,dc=org');

/** Settings of one LDAP directory (next to the kit's common ones: id, concurrency, rateLimit, breaker, reconcile, ...). */
export function ldapTargetShape(env: Env) {
  return {
    url: z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/, 'must be ldap://host:port or ldaps://host:port'),
    /** Upgrade ldap:// connections with StartTLS before binding. */
    startTls: z.boolean().default(false),
    /** Allow ldap:// without StartTLS: the bind password and every entry travel in clear. For tests and local development only. */
    allowInsecureLdap: z.boolean().default(false),
    tls: z
      .object({ caFile: z.string().optional(), rejectUnauthorized: z.boolean().default(true), servername: z.string().optional() })
      .strict()
      .prefault({}),
    bindDn: dn,
    bindPassword: secretSchema(env),
    dialect: z.enum(['openldap', 'ad']).default('openldap'),
    /** Where accounts live; the DN template is relative to it. */
    usersBase: dn,
    /** RDNs below usersBase, with {accountName}, {personId} and {attr.NAME} (values are escaped). Default: uid={accountName} (AD: cn={accountName}). */
    dnTemplate: z.string().min(3).optional(),
    /** Create missing organizational units of the template's containers. */
    createContainers: z.boolean().default(true),
    objectClasses: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/)).optional(),
    owner: z
      .object({ attribute: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/).default('description'), prefix: z.string().default('provisio:managed person=') })
      .strict()
      .prefault({}),
    /** OpenLDAP disable method (AD always uses userAccountControl). */
    disable: z
      .discriminatedUnion('method', [
        z.object({ method: z.literal('ppolicy') }).strict(),
        z.object({ method: z.literal('attribute'), attribute: z.string().min(1), disabledValue: z.string().min(1), enabledValue: z.string().nullable().default(null) }).strict(),
        z.object({ method: z.literal('move'), disabledBase: dn }).strict(),
      ])
      .default({ method: 'ppolicy' }),
    posix: z
      .object({
        enabled: z.boolean().default(false),
        uidNumber: z.object({ min: z.number().int().positive(), max: z.number().int().positive() }).strict().prefault({ min: 10000, max: 59999 }),
        /** A fixed primary group number, or "uid" for user private groups. */
        gidNumber: z.union([z.number().int().positive(), z.literal('uid')]).default('uid'),
        /** With gidNumber "uid": where posixGroups are looked for, so that a new uid/gid number is no existing group's gidNumber (default: the directory's naming context holding usersBase). */
        gidSearchBases: z.array(dn).min(1).optional(),
        /** {accountName} or {uidNumber}; must come out ASCII (IA5String). */
        homeDirectory: z.string().default('/home/{accountName}'),
        loginShell: z.string().default('/bin/bash'),
      })
      .strict()
      .prefault({}),
    /** Group entries (memberships are managed when set). */
    groupEntries: z
      .object({
        base: dn,
        /** How commands name groups: by cn under the base, or by full DN. */
        naming: z.enum(['cn', 'dn']).default('cn'),
        /** groupOfNames needs a member: removing the last one puts this DN in instead (else the removal fails). */
        placeholderMember: dn.optional(),
        /**
         * Membership changes of concurrent commands to one group go together: one modify per
         * group with up to this many member values (any error: each value again on its own).
         * 1 writes every membership change with a modify of its own.
         */
        maxValuesPerModify: z.number().int().min(1).max(1000).default(100),
      })
      .strict()
      .optional(),
    /**
     * OpenLDAP: how a `password` attribute is written to userPassword — "ssha" (default: salted
     * SHA-1, {SSHA}, which stock slapd verifies without modules) or "cleartext" for servers that
     * hash it themselves (ppolicy with olcPPolicyHashCleartext: TRUE). AD always gets unicodePwd.
     */
    passwordHash: z.enum(['ssha', 'cleartext']).default('ssha'),
    /** Take over an existing, unmarked entry with the desired name instead of failing. */
    adoptExisting: z.boolean().default(false),
    /** AD: userPrincipalName = accountName@upnSuffix. */
    upnSuffix: z.string().optional(),
    /** Connections to the directory (each carries many requests). */
    connections: z.number().int().positive().max(64).default(4),
  };
}

function schemaFor(env: Env) {
  return serviceConfigSchema(
    { port: 8083, schema: 'connector_ldap' },
    {
      /** Directories as JSON or YAML (or CONNECTOR_TARGETS_FILE); required ("[]" serves none). */
      CONNECTOR_TARGETS: targetsEnv(ldapTargetShape(env)),
    },
  ).superRefine((c, ctx) => {
    c.CONNECTOR_TARGETS.forEach((t, i) => {
      const problem = plaintextLdap(t);
      if (problem) ctx.addIssue({ code: 'custom', path: ['CONNECTOR_TARGETS', i, 'url'], message: problem });
    });
  });
}

/** Why a target's connection would carry the bind password in clear, or null when it is encrypted (ldaps://, StartTLS) or explicitly allowed. */
export function plaintextLdap(t: { url: string; startTls: boolean; allowInsecureLdap: boolean }): string | null {
  if (t.allowInsecureLdap || t.startTls || /^ldaps:/i.test(t.url)) return null;
  return 'ldap:// without startTls sends the bind password and the entries unencrypted: use ldaps:// or startTls: true (allowInsecureLdap: true is for tests and local development only)';
}

/** The schema (secrets given as { env } resolve against the process environment); deployment checks read its keys. */
export const configSchema = schemaFor(process.env);

export type ConnectorLdapConfig = z.infer<ReturnType<typeof schemaFor>>;
export type LdapTargetConfig = ConnectorLdapConfig['CONNECTOR_TARGETS'][number];

export function loadConnectorLdapConfig(env: Env = process.env): ConnectorLdapConfig {
  return loadConfig(schemaFor(env), env);
}
