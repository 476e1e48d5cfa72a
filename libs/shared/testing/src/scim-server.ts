import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

type Json = Record<string, unknown>;

/** The state of one test SCIM server: plain JSON resources, keyed by id. */
export class ScimStore {
  readonly users = new Map<string, Json>();
  readonly groups = new Map<string, Json>();
  /** Email addresses unique across users too (as some services enforce): a clash answers 409 uniqueness. */
  uniqueEmails = false;

  groupsOf(userId: string): { value: string; display: unknown; type: string }[] {
    return [...this.groups.values()]
      .filter((g) => ((g['members'] as Json[] | undefined) ?? []).some((m) => m['value'] === userId))
      .map((g) => ({ value: String(g['id']), display: g['displayName'], type: 'direct' }));
  }
}

/** Misbehaviour on demand, to test how connectors cope with real-world SCIM services. */
export interface ScimFaults {
  /** Delay before every answer. */
  latencyMs?: number;
  /** Answer 429 with this Retry-After (seconds) to the next `count` requests. */
  rateLimit?: { count: number; retryAfterSeconds: number };
  /** PATCH answers 405 (services that only do PUT). */
  patchUnsupported?: boolean;
  /** PATCH operations must be named Add/Replace/Remove (old Azure AD style); lower case gets a 400. */
  requireCapitalizedOps?: boolean;
  /** Answer 503 to everything. */
  unavailable?: boolean;
}

const INDEXED = new Set(['id', 'userName', 'externalId', 'displayName']);

/**
 * Simple equality filters on indexed attributes (the look-ups connectors make before every write)
 * are answered from a scan without SCIMMY's generic matcher; everything else goes through it.
 */
function quickMatch(filter: unknown, all: Json[]): Json[] | undefined {
  if (!Array.isArray(filter) || filter.length === 0) return undefined;
  const wanted: { attr: string; value: string }[] = [];
  for (const expr of filter as Record<string, unknown>[]) {
    const keys = Object.keys(expr);
    const cmp = expr[keys[0]!];
    if (keys.length !== 1 || !INDEXED.has(keys[0]!) || !Array.isArray(cmp) || cmp[0] !== 'eq' || typeof cmp[1] !== 'string') return undefined;
    wanted.push({ attr: keys[0]!, value: cmp[1].toLowerCase() });
  }
  return all.filter((r) => wanted.some((w) => String(r[w.attr] ?? '').toLowerCase() === w.value));
}

const egressFor = (kind: 'users' | 'groups') => (resource: SCIMMY.Types.Resource, ctx: unknown) => {
  const store = (ctx as { store: ScimStore }).store;
  const map = store[kind];
  const decorate = (r: Json): Json => (kind === 'users' ? { ...r, groups: store.groupsOf(String(r['id'])) } : r);
  if (resource.id) {
    const found = map.get(resource.id);
    if (!found) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${resource.id} not found`);
    return decorate(found);
  }
  const all = [...map.values()];
  const quick = resource.filter ? quickMatch(resource.filter, all) : all;
  if (quick) return quick.map(decorate);
  return resource.filter!.match(all.map(decorate));
};

const plain = (instance: unknown): Json => JSON.parse(JSON.stringify(instance)) as Json;

function ingressFor(kind: 'users' | 'groups') {
  return (resource: SCIMMY.Types.Resource, instance: unknown, ctx: unknown): Json => {
    const store = (ctx as { store: ScimStore }).store;
    const map = store[kind];
    const data = plain(instance);
    delete data['meta'];
    delete data['groups'];
    const uniqueKey = kind === 'users' ? 'userName' : 'displayName';
    const clash = [...map.values()].find((r) => String(r[uniqueKey]).toLowerCase() === String(data[uniqueKey]).toLowerCase() && r['id'] !== resource.id);
    if (clash) throw new SCIMMY.Types.Error(409, 'uniqueness', `${uniqueKey} ${String(data[uniqueKey])} is already taken`);
    if (kind === 'users' && store.uniqueEmails) {
      const emailsOf = (r: Json) => ((r['emails'] as Json[] | undefined) ?? []).map((e) => String(e['value']).toLowerCase());
      const wanted = new Set(emailsOf(data));
      if ([...map.values()].some((r) => r['id'] !== resource.id && emailsOf(r).some((e) => wanted.has(e)))) {
        throw new SCIMMY.Types.Error(409, 'uniqueness', 'an email address is already taken by another user');
      }
    }
    const now = new Date().toISOString();
    if (resource.id) {
      const existing = map.get(resource.id);
      if (!existing) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${resource.id} not found`);
      const updated = { ...data, id: resource.id, meta: { ...(existing['meta'] as Json), lastModified: now } };
      map.set(resource.id, updated);
      return updated;
    }
    const id = randomUUID();
    const created: Json = { ...data, id, meta: { created: now, lastModified: now } };
    if (kind === 'users' && created['active'] === undefined) created['active'] = true;
    map.set(id, created);
    return created;
  };
}

function degressFor(kind: 'users' | 'groups') {
  return (resource: SCIMMY.Types.Resource, ctx: unknown): void => {
    const store = (ctx as { store: ScimStore }).store;
    if (!resource.id || !store[kind].delete(resource.id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${resource.id} not found`);
    if (kind === 'users') {
      for (const g of store.groups.values()) g['members'] = ((g['members'] as Json[] | undefined) ?? []).filter((m) => m['value'] !== resource.id);
    }
  };
}

let declared = false;
function declareResources(): void {
  if (declared) return;
  declared = true;
  SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false))
    .ingress(ingressFor('users') as never)
    .egress(egressFor('users') as never)
    .degress(degressFor('users') as never);
  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress(ingressFor('groups') as never)
    .egress(egressFor('groups') as never)
    .degress(degressFor('groups') as never);
}

/**
 * A real SCIM 2.0 service provider for tests and benchmarks: the protocol is SCIMMY's (filters,
 * paging, PatchOp, schemas, errors) behind scimmy-routers on express, with an in-memory store
 * implemented as SCIMMY resource handlers. It checks bearer tokens — static or issued by its own
 * OAuth2 client-credentials token endpoint — and can misbehave on demand (ScimFaults).
 */
export class ScimTestServer {
  readonly store = new ScimStore();
  faults: ScimFaults = {};
  readonly requests: { method: string; path: string; status: number }[] = [];
  readonly token: string;
  readonly client = { id: 'provisio-test-client', secret: randomBytes(16).toString('hex') };
  private readonly issued = new Set<string>();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(private readonly app: express.Express) {
    this.token = randomBytes(16).toString('hex');
  }

  static async start(o: { port?: number } = {}): Promise<ScimTestServer> {
    declareResources();
    const app = express();
    const s = new ScimTestServer(app);
    app.use((req: Request, res: Response, next: NextFunction) => s.misbehave(req, res, next));
    app.post('/oauth/token', express.urlencoded({ extended: false }), (req: Request, res: Response) => s.issueToken(req, res));
    app.use('/scim/v2', express.json({ type: ['application/scim+json', 'application/json'] }), (req: Request, res: Response, next: NextFunction) => s.checkPatch(req, res, next));
    app.use(
      '/scim/v2',
      new SCIMMYRouters({
        type: 'bearer',
        docUri: 'https://example.org/scim-auth',
        handler: (req: Request) => {
          const token = req.header('authorization')?.replace(/^Bearer /i, '');
          if (!token || (token !== s.token && !s.issued.has(token))) throw new Error('Authorization failed');
          return 'provisio-connector';
        },
        context: () => ({ store: s.store }),
      }) as unknown as express.Router,
    );
    await s.listen(o.port ?? 0);
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/scim/v2`;
  }

  get tokenUrl(): string {
    return `http://127.0.0.1:${this.port}/oauth/token`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = this.app.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        this.server = server;
        resolve();
      });
      server.on('connection', (sock) => {
        this.sockets.add(sock);
        sock.on('close', () => this.sockets.delete(sock));
      });
      server.once('error', reject);
    });
  }

  private async misbehave(req: Request, res: Response, next: NextFunction): Promise<void> {
    const record = () => this.requests.push({ method: req.method, path: req.path, status: res.statusCode });
    res.on('finish', record);
    if (this.faults.latencyMs) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
    if (this.faults.unavailable) {
      res.status(503).json({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '503', detail: 'maintenance' });
      return;
    }
    const rl = this.faults.rateLimit;
    if (rl && rl.count > 0) {
      rl.count--;
      res.status(429).setHeader('Retry-After', String(rl.retryAfterSeconds));
      res.json({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429', detail: 'too many requests' });
      return;
    }
    next();
  }

  private checkPatch(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'PATCH') return next();
    const error = (status: number, detail: string) => res.status(status).json({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), scimType: 'invalidSyntax', detail });
    if (this.faults.patchUnsupported) return void error(405, 'PATCH is not supported');
    if (this.faults.requireCapitalizedOps) {
      const ops = ((req.body as { Operations?: { op?: string }[] })?.Operations ?? []).map((o) => o.op);
      if (ops.some((op) => op !== 'Add' && op !== 'Replace' && op !== 'Remove')) return void error(400, `op must be Add, Replace or Remove (got ${ops.join(', ')})`);
    }
    next();
  }

  private issueToken(req: Request, res: Response): void {
    const body = req.body as Record<string, string | undefined>;
    const basic = req.header('authorization')?.match(/^Basic (.+)$/i)?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent) : [body['client_id'], body['client_secret']];
    if (body['grant_type'] !== 'client_credentials') return void res.status(400).json({ error: 'unsupported_grant_type' });
    if (id !== this.client.id || secret !== this.client.secret) return void res.status(401).json({ error: 'invalid_client' });
    const token = randomBytes(16).toString('hex');
    this.issued.add(token);
    res.json({ access_token: token, token_type: 'Bearer', expires_in: 3600 });
  }

  /** Revokes every OAuth2 token it issued (clients must fetch a new one). */
  revokeIssuedTokens(): void {
    this.issued.clear();
  }

  /** Stops answering (connections refused) until start(); the data stays. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async start(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  async close(): Promise<void> {
    await this.stop();
  }
}
