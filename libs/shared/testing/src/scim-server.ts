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
  /**
   * ETags (RFC 7644 §3.14): every resource carries `meta.version` (a weak ETag, new on every
   * change), single-resource answers carry it as the `ETag` header, and a PUT, PATCH or DELETE
   * with `If-Match` that names another version (or `*` for a missing resource) is refused with
   * 412 Precondition Failed. Off: versions are neither sent nor checked (If-Match is ignored).
   */
  etags = false;
  private revision = 0;

  /** The resource's current version (assigned when it has none yet, e.g. one a test put into the map). */
  versionOf(r: Json): string {
    const meta = ((r['meta'] as Json | undefined) ??= {});
    if (typeof meta['version'] !== 'string') meta['version'] = this.nextVersion();
    return meta['version'] as string;
  }

  nextVersion(): string {
    return `W/"${++this.revision}"`;
  }

  /** Refuses a write whose If-Match names another version than the resource's current one. */
  checkPrecondition(existing: Json | undefined, ifMatch: string | undefined): void {
    if (!this.etags || ifMatch === undefined) return;
    const wanted = ifMatch.split(',').map((t) => t.trim());
    if (existing && (wanted.includes('*') || wanted.includes(this.versionOf(existing)))) return;
    throw new SCIMMY.Types.Error(412, null as unknown as string, 'Failed to update. Resource changed on the server.');
  }

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

/** What the server saw of one request. */
export interface ScimRequestRecord {
  method: string;
  path: string;
  status: number;
  /** When it arrived and when its answer was sent (ms since the epoch). */
  at: number;
  done: number;
  /** The Retry-After (seconds) of a 429 answer. */
  retryAfterSeconds?: number;
  /** The If-Match header it carried. */
  ifMatch?: string;
}

/** Runs before the server handles a request (after faults): e.g. another writer's change just before it. */
export type ScimRequestHook = (req: { method: string; path: string; ifMatch: string | undefined }) => void | Promise<void>;

const INDEXED = new Set(['id', 'userName', 'externalId', 'displayName']);

/**
 * A resource's attribute in lower case, computed once per stored object (an update stores a new
 * one): the look-ups and uniqueness checks scan every resource, and lower-casing each of them on
 * every request made the server's cost per request grow with the store far faster than a real
 * service's index does.
 */
const lowered = new WeakMap<Json, Map<string, string>>();
function lower(r: Json, attr: string): string {
  let m = lowered.get(r);
  if (!m) lowered.set(r, (m = new Map()));
  let v = m.get(attr);
  if (v === undefined) m.set(attr, (v = String(r[attr] ?? '').toLowerCase()));
  return v;
}

/**
 * Simple equality filters on indexed attributes (the look-ups connectors make before every write)
 * are answered from a scan without SCIMMY's generic matcher; everything else goes through it.
 */
function quickMatch(filter: unknown, all: Json[]): Json[] | undefined {
  if (!Array.isArray(filter) || filter.length === 0) return undefined;
  // The wanted values per attribute: one pass over the resources whatever the number of terms
  // (a connector's batch look-up ORs 50 of them), as an indexed service answers it.
  const wanted = new Map<string, Set<string>>();
  for (const expr of filter as Record<string, unknown>[]) {
    const keys = Object.keys(expr);
    const cmp = expr[keys[0]!];
    if (keys.length !== 1 || !INDEXED.has(keys[0]!) || !Array.isArray(cmp) || cmp[0] !== 'eq' || typeof cmp[1] !== 'string') return undefined;
    const values = wanted.get(keys[0]!) ?? new Set<string>();
    values.add(cmp[1].toLowerCase());
    wanted.set(keys[0]!, values);
  }
  const byAttribute = [...wanted];
  return all.filter((r) => byAttribute.some(([attr, values]) => values.has(lower(r, attr))));
}

const egressFor = (kind: 'users' | 'groups') => (resource: SCIMMY.Types.Resource, ctx: unknown) => {
  const store = (ctx as { store: ScimStore }).store;
  const map = store[kind];
  const versioned = (r: Json): Json => (store.etags ? { ...r, meta: { ...(r['meta'] as Json), version: store.versionOf(r) } } : r);
  const decorate = (r: Json): Json => versioned(kind === 'users' ? { ...r, groups: store.groupsOf(String(r['id'])) } : r);
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
    const { store, ifMatch } = ctx as { store: ScimStore; ifMatch?: string };
    const map = store[kind];
    if (resource.id) store.checkPrecondition(map.get(resource.id), ifMatch);
    const data = plain(instance);
    delete data['meta'];
    delete data['groups'];
    const uniqueKey = kind === 'users' ? 'userName' : 'displayName';
    const taken = String(data[uniqueKey]).toLowerCase();
    let clash: Json | undefined;
    for (const r of map.values()) {
      if (lower(r, uniqueKey) === taken && r['id'] !== resource.id) {
        clash = r;
        break;
      }
    }
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
      const updated = { ...data, id: resource.id, meta: { ...(existing['meta'] as Json), lastModified: now, ...(store.etags ? { version: store.nextVersion() } : {}) } };
      map.set(resource.id, updated);
      return updated;
    }
    const id = randomUUID();
    const created: Json = { ...data, id, meta: { created: now, lastModified: now, ...(store.etags ? { version: store.nextVersion() } : {}) } };
    if (kind === 'users' && created['active'] === undefined) created['active'] = true;
    map.set(id, created);
    return created;
  };
}

function degressFor(kind: 'users' | 'groups') {
  return (resource: SCIMMY.Types.Resource, ctx: unknown): void => {
    const { store, ifMatch } = ctx as { store: ScimStore; ifMatch?: string };
    if (resource.id && store[kind].has(resource.id)) store.checkPrecondition(store[kind].get(resource.id), ifMatch);
    if (!resource.id || !store[kind].delete(resource.id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${resource.id} not found`);
    if (kind === 'users') {
      for (const g of store.groups.values()) {
        const members = (g['members'] as Json[] | undefined) ?? [];
        if (!members.some((m) => m['value'] === resource.id)) continue;
        g['members'] = members.filter((m) => m['value'] !== resource.id);
        if (store.etags) (g['meta'] as Json)['version'] = store.nextVersion();
      }
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
  readonly requests: ScimRequestRecord[] = [];
  /** Runs before each request is handled (see ScimRequestHook); unset by the test when done. */
  beforeHandling: ScimRequestHook | undefined;
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
    app.set('etag', false); // no ETags unless the store gives versions (express would hash every answer)
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
        context: (req: Request) => ({ store: s.store, ifMatch: req.header('if-match') }),
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
    const at = Date.now();
    const path = req.path; // as it arrived (routers below strip their mount path)
    const ifMatch = req.header('if-match');
    const record = () => {
      const retryAfter = res.statusCode === 429 ? Number(res.getHeader('retry-after')) : undefined;
      this.requests.push({ method: req.method, path, status: res.statusCode, at, done: Date.now(), ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}), ...(ifMatch !== undefined ? { ifMatch } : {}) });
    };
    res.on('finish', record);
    if (this.store.etags) {
      // A single resource's version goes out as its ETag header too (RFC 7644 §3.14).
      const json = res.json.bind(res);
      res.json = (body: unknown) => {
        const version = (JSON.parse(JSON.stringify(body ?? null)) as { meta?: { version?: unknown } } | null)?.meta?.version;
        if (typeof version === 'string' && res.statusCode < 300) res.setHeader('ETag', version);
        return json(body);
      };
    }
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
    if (this.beforeHandling) await this.beforeHandling({ method: req.method, path, ifMatch });
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
