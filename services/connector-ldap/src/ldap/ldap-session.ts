import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConnectorError, ConnectorErrorCode, scrubTargetText } from '@provisio/connector-kit';
import { Client, ResultCodeError } from 'ldapts';

export interface SessionOptions {
  url: string;
  startTls: boolean;
  tls: { caFile?: string | undefined; rejectUnauthorized: boolean; servername?: string | undefined };
  bindDn: string;
  bindPassword: string;
  timeoutMs: number;
}

/** LDAP result codes that pass by themselves (busy, unavailable, time limit, server-side problems). */
const TRANSIENT_CODES = new Set([3, 51, 52, 80, 81, 85]);
const AUTH_CODES = new Set([49, 50, 48]);

/** ldapts and socket errors → connector errors. */
export function fromLdapError(e: unknown, what: string): ConnectorError {
  if (e instanceof ConnectorError) return e;
  // The directory's diagnostic may name the entry (Samba: its DN, a taken sAMAccountName in quotes): DN values and emails masked here, the kit redacts the person's values.
  const message = `${what}: ${scrubTargetText((e as Error)?.message ?? String(e))}`;
  if (e instanceof ResultCodeError) {
    if (TRANSIENT_CODES.has(e.code)) return new ConnectorError(ConnectorErrorCode.Unavailable, message, { cause: e });
    if (AUTH_CODES.has(e.code)) return new ConnectorError(ConnectorErrorCode.Unauthorized, message, { cause: e });
    // entryAlreadyExists: the kit re-reads; a race converges, a collision with an entry it cannot find fails the command.
    if (e.code === 68) return new ConnectorError(ConnectorErrorCode.AlreadyExists, message, { cause: e });
    if (e.code === 8 || e.code === 13) return new ConnectorError(ConnectorErrorCode.Configuration, message, { cause: e });
    return new ConnectorError(ConnectorErrorCode.Rejected, message, { cause: e });
  }
  // Socket trouble, timeouts, closed connections: the directory is (for now) not there.
  return new ConnectorError(ConnectorErrorCode.Unavailable, message, { cause: e });
}

export function ldapCode(e: unknown): number | undefined {
  const cause = e instanceof ConnectorError ? e.options.cause : e;
  return cause instanceof ResultCodeError ? cause.code : undefined;
}

/**
 * A small pool of bound connections to one directory, used round-robin (LDAP multiplexes
 * requests on a connection). A connection that fails at the transport level is dropped and
 * replaced on the next use, so the pool heals after an outage by itself.
 */
export class LdapSessionPool {
  private readonly slots: (Promise<Client> | undefined)[];
  private next = 0;
  private readonly tlsOptions: ConnectionOptions;

  constructor(
    private readonly o: SessionOptions,
    size: number,
  ) {
    this.slots = new Array(size).fill(undefined);
    this.tlsOptions = {
      rejectUnauthorized: o.tls.rejectUnauthorized,
      ...(o.tls.caFile ? { ca: readFileSync(o.tls.caFile) } : {}),
      ...(o.tls.servername ? { servername: o.tls.servername } : {}),
    };
  }

  get encrypted(): boolean {
    return this.o.url.startsWith('ldaps://') || this.o.startTls;
  }

  private async open(): Promise<Client> {
    const client = new Client({
      url: this.o.url,
      timeout: this.o.timeoutMs,
      connectTimeout: Math.min(10_000, this.o.timeoutMs),
      ...(this.o.url.startsWith('ldaps://') ? { tlsOptions: this.tlsOptions } : {}),
    });
    try {
      if (this.o.startTls) await client.startTLS(this.tlsOptions);
      await client.bind(this.o.bindDn, this.o.bindPassword);
      return client;
    } catch (e) {
      await client.unbind().catch(() => undefined);
      throw fromLdapError(e, 'connect and bind');
    }
  }

  /** Runs `fn` on one of the pool's connections; transport failures drop that connection. */
  async use<T>(what: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const i = this.next++ % this.slots.length;
    let pending = this.slots[i];
    if (!pending) {
      pending = this.open();
      this.slots[i] = pending;
      pending.catch(() => {
        if (this.slots[i] === pending) this.slots[i] = undefined;
      });
    }
    const client = await pending;
    try {
      if (!client.isConnected) throw new Error('connection closed');
      return await fn(client);
    } catch (e) {
      const err = fromLdapError(e, what);
      if (!(e instanceof ResultCodeError) || err.code === ConnectorErrorCode.Unavailable) {
        if (this.slots[i] === pending) this.slots[i] = undefined;
        void client.unbind().catch(() => undefined);
      }
      throw err;
    }
  }

  /** A connection of its own (paged listings keep server-side state on their connection). */
  async dedicated(): Promise<Client> {
    return this.open();
  }

  async close(): Promise<void> {
    const all = this.slots.splice(0);
    await Promise.all(all.map(async (p) => (await p?.catch(() => undefined))?.unbind().catch(() => undefined)));
  }
}
