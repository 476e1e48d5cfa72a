import type { DesiredAccount } from '@provisio/connector-kit';
import pg from 'pg';

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
