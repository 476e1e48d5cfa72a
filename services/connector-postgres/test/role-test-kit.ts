import { TargetRuntime, targetsEnv, type DesiredAccount } from '@provisio/connector-kit';
import { silentLogger, uniqueId } from '@provisio/testing';
import pg from 'pg';
import { postgresTargetShape, type PostgresTargetConfig } from '../src/config.js';
import type { PostgresRoleConnector } from '../src/target/postgres-role.connector.js';

/**
 * This test file's role names: roles are cluster-wide, so each name starts with a prefix of its
 * own (`p`, from `prefix`), and the ownership marker carries it.
 */
export function testRoles(prefix: string): { p: string; role: (n: string) => string; marker: string } {
  const p = uniqueId(prefix).toLowerCase();
  return { p, role: (n: string) => `${p}_${n}`, marker: `provisio:managed(${p}) person=` };
}

/**
 * Target `pg` on the database at `url` as connector-postgres's own configuration parses it (the URL
 * through a variable), roles marked with `marker`, `settings` on top.
 */
export function pgTarget(url: string, marker: string, settings: Record<string, unknown> = {}): PostgresTargetConfig {
  const [config] = targetsEnv(postgresTargetShape({ PG_URL: url })).parse(JSON.stringify([{ id: 'pg', url: { env: 'PG_URL' }, markerPrefix: marker, ...settings }]));
  return config!;
}

/** The kit's runtime around a connector, logging nothing. */
export function pgRuntime(config: PostgresTargetConfig, connector: PostgresRoleConnector): TargetRuntime {
  return new TargetRuntime(config, 'postgres', connector, silentLogger(), connector.planOptions());
}

/** Desired accounts on target `pg`, each with the next version; `next()` takes a version for a hand-made one. */
export function desiredAccounts(): ((personId: string, accountName: string, more?: Partial<DesiredAccount>) => DesiredAccount) & { next: () => number } {
  let version = 0;
  const next = () => ++version;
  const desired = (personId: string, accountName: string, more: Partial<DesiredAccount> = {}): DesiredAccount => ({
    personId,
    target: 'pg',
    version: next(),
    state: 'ACTIVE',
    accountName,
    attributes: {},
    groups: [],
    ...more,
  });
  return Object.assign(desired, { next });
}

/** Sessions logged in to a target database as given roles (trust auth), and the count of a role's sessions. */
export class TargetSessions {
  private readonly open: pg.Client[] = [];

  constructor(private readonly targetUrl: () => string) {}

  /** The target's URL with another user. */
  urlAs(user: string): string {
    const u = new URL(this.targetUrl());
    u.username = encodeURIComponent(user);
    return u.toString();
  }

  /** A session logged in as `user` on the target database. */
  async as(user: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.urlAs(user) });
    c.on('error', () => undefined); // a terminated backend
    await c.connect();
    this.open.push(c);
    return c;
  }

  async closeAll(): Promise<void> {
    for (const c of this.open.splice(0)) await c.end().catch(() => undefined);
  }
}
