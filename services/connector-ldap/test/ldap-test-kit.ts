import { TargetRuntime, type DesiredAccount } from '@provisio/connector-kit';
import { startSlapd, type RunningSlapd, type SlapdOptions } from '@provisio/devstack';
import { serviceTestEnv, silentLogger } from '@provisio/testing';
import { Client } from 'ldapts';
import { loadConnectorLdapConfig, type LdapTargetConfig } from '../src/config.js';
import type { LdapDirectoryConnector } from '../src/ldap/ldap-directory.connector.js';

/** The test slapd's suffix and the containers the tests put accounts and groups in. */
export const BASE = 'dc=example,dc=org';
export const PEOPLE = `ou=people,${BASE}`;
export const GROUPS = `ou=groups,${BASE}`;
/** The placeholder member of groupOfNames groups (a groupOfNames needs at least one member). */
export const NOBODY = `cn=nobody,${BASE}`;

/** A throwaway slapd and a client bound to it as its root DN. */
export async function startDirectory(options?: SlapdOptions): Promise<{ slapd: RunningSlapd; admin: Client }> {
  const slapd = await startSlapd(options);
  try {
    const admin = new Client({ url: slapd.url });
    await admin.bind(slapd.rootDn, slapd.rootPassword);
    return { slapd, admin };
  } catch (e) {
    await slapd.destroy();
    throw e;
  }
}

/** Unbinds the root client and removes the slapd (its process and its files), whichever were made. */
export async function stopDirectory(slapd: RunningSlapd | undefined, admin: Client | undefined): Promise<void> {
  await admin?.unbind().catch(() => undefined);
  await slapd?.destroy();
}

/**
 * Target `dir` on the test slapd as connector-ldap's own configuration loader parses it: plain
 * ldap:// allowed, accounts under PEOPLE, bound as the root DN (or `bind`), `settings` on top.
 */
export function ldapTarget(slapd: RunningSlapd, settings: Record<string, unknown> = {}, bind?: { dn: string; password: string }): LdapTargetConfig {
  const targets = [{ id: 'dir', url: slapd.url, allowInsecureLdap: true, bindDn: bind?.dn ?? slapd.rootDn, bindPassword: { env: 'LDAP_TEST_PASSWORD' }, usersBase: PEOPLE, ...settings }];
  const env = { ...serviceTestEnv({ databaseUrl: 'postgres://127.0.0.1/unused', topicPrefix: 'x.' }), CONNECTOR_TARGETS: JSON.stringify(targets), LDAP_TEST_PASSWORD: bind?.password ?? slapd.rootPassword };
  return loadConnectorLdapConfig(env).CONNECTOR_TARGETS[0]!;
}

/** The target as an entry of a connector-ldap service's CONNECTOR_TARGETS: the test slapd over plain LDAP, bound as its root. */
export function serviceTarget(slapd: RunningSlapd, settings: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'dir', url: slapd.url, allowInsecureLdap: true, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, usersBase: PEOPLE, ...settings };
}

/** The kit's runtime around a connector, the way the service builds it (LDAP names compare case-insensitively), logging nothing. */
export function ldapRuntime(cfg: LdapTargetConfig, connector: LdapDirectoryConnector): TargetRuntime {
  return new TargetRuntime(cfg, 'ldap', connector, silentLogger(), connector.planOptions(), true);
}

/** A joiner on target `dir`: person p-<n> gets account user<n> and mail p-<n>@example.org. */
export function desiredAccount(personId: string, over: Partial<DesiredAccount> = {}): DesiredAccount {
  return {
    personId,
    target: 'dir',
    version: 1,
    state: 'ACTIVE',
    accountName: personId.replace('p-', 'user'),
    attributes: { mail: `${personId}@example.org` },
    groups: [],
    ...over,
  };
}

type Use = <T>(what: string, fn: (c: Client) => Promise<T>) => Promise<T>;
type Watched = 'search' | 'modify';

/**
 * Calls `seen` with the arguments of every `method` call the connector sends, whatever it is
 * for, on any client its pool lends, before the call goes out unchanged.
 */
export function watchClientCalls<K extends Watched>(connector: LdapDirectoryConnector, method: K, seen: (...args: Parameters<Client[K]>) => void): void {
  const pool = (connector as unknown as { pool: { use: Use } }).pool;
  const use = pool.use.bind(pool) as Use;
  pool.use = (what, fn) =>
    use(what, (c) =>
      fn(
        new Proxy(c, {
          get: (t, k) => {
            if (k === method) {
              return (...args: Parameters<Client[K]>) => {
                seen(...args);
                return (t[method] as (...a: Parameters<Client[K]>) => unknown).apply(t, args);
              };
            }
            const v = Reflect.get(t, k, t) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
          },
        }),
      ),
    );
}
