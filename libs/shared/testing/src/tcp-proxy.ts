import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * How a downed proxy treats new connections: `refuse` stops listening (connect fails with
 * ECONNREFUSED, as for a stopped server), `reset` accepts and resets at once (ECONNRESET),
 * `blackhole` accepts and never answers nor forwards (the client's own timeouts must act, as for a
 * hung server or a dropped network path).
 */
export type TcpProxyDownMode = 'refuse' | 'reset' | 'blackhole';

/**
 * A TCP proxy in front of a real server, for fault tests of a target that must not itself be
 * stopped (the shared PostgreSQL server): `down()` destroys every open connection in both
 * directions and treats new ones as the mode says; `up()` forwards again on the same port. From
 * the client's side the target is down, whatever the server behind does.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  private downMode: TcpProxyDownMode | null = null;
  /** Connections forwarded to the target, and connections turned away while down (reset or blackholed; refused ones never reach the proxy). */
  readonly stats = { forwarded: 0, turnedAway: 0, destroyed: 0 };

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    readonly host: string,
    private listenPort: number,
  ) {}

  /** Listens on a free port of 127.0.0.1 (or `port`) and forwards to `target`. */
  static async start(target: { host: string; port: number }, o: { port?: number } = {}): Promise<TcpProxy> {
    const p = new TcpProxy(target.host, target.port, '127.0.0.1', o.port ?? 0);
    await p.listen();
    return p;
  }

  /** For `postgres://user@host:5432/db`: the same URL through this proxy. */
  static async forUrl(url: string): Promise<{ proxy: TcpProxy; url: string }> {
    const u = new URL(url);
    const proxy = await TcpProxy.start({ host: u.hostname || '127.0.0.1', port: Number(u.port) || defaultPort(u.protocol) });
    return { proxy, url: proxy.rewrite(url) };
  }

  get port(): number {
    return this.listenPort;
  }

  get isDown(): boolean {
    return this.downMode !== null;
  }

  /** Connections currently open through the proxy (client side). */
  get openConnections(): number {
    return this.open.size;
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = this.host;
    u.port = String(this.port);
    return u.toString();
  }

  /** Takes the target down: every open connection is destroyed; new ones are refused, reset or blackholed. */
  async down(mode: TcpProxyDownMode = 'refuse'): Promise<void> {
    const wasListening = this.server !== undefined;
    this.downMode = mode;
    this.destroyAll();
    if (mode === 'refuse' && wasListening) await this.stopListening();
    if (mode !== 'refuse' && !wasListening) await this.listen();
  }

  /** Forwards again (on the same port). Connections blackholed while down are destroyed. */
  async up(): Promise<void> {
    this.downMode = null;
    this.destroyAll();
    if (!this.server) await this.listen();
  }

  async close(): Promise<void> {
    this.downMode = 'refuse';
    this.destroyAll();
    await this.stopListening();
  }

  private destroyAll(): void {
    for (const s of this.open) {
      s.destroy();
      this.stats.destroyed++;
    }
    this.open.clear();
  }

  private track(s: Socket): void {
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
    s.on('error', () => undefined);
  }

  private accept(client: Socket): void {
    const mode = this.downMode;
    if (mode === 'reset') {
      this.stats.turnedAway++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.track(client);
    if (mode === 'blackhole') {
      this.stats.turnedAway++;
      client.resume(); // read and drop whatever the client sends
      return;
    }
    this.stats.forwarded++;
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // Either side gone: the other goes too (a half-open pair would look alive to the client).
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true }, (c) => this.accept(c));
      server.once('error', reject);
      server.listen(this.listenPort, this.host, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        this.listenPort = (server.address() as { port: number }).port;
        this.server = server;
        resolve();
      });
    });
  }

  private stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

function defaultPort(protocol: string): number {
  const ports: Record<string, number> = { 'postgres:': 5432, 'postgresql:': 5432, 'ldap:': 389, 'ldaps:': 636, 'http:': 80, 'https:': 443 };
  const p = ports[protocol];
  if (p === undefined) throw new Error(`TcpProxy.forUrl: no port in the URL and no default for ${protocol}`);
  return p;
}
