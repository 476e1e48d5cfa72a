import {
  ConnectorError,
  ConnectorErrorCode,
  KeyedMutex,
  scrubTargetText,
  type AccountLocator,
  type AccountPatch,
  type DesiredAccount,
  type Page,
  type PlanOptions,
  type TargetAccount,
  type TargetConnector,
  type TargetGroup,
} from '@provisio/connector-kit';
import { QUIRK_PROFILES, insecureUrls, type ScimTargetConfig } from '../config.js';
import { GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, patchOperations, pathOf, readAttributes, setValue, type PatchOperation } from './scim-attributes.js';
import { equalityLookup, plainFilterValue, scimString, type EqualityLookup } from './scim-filter.js';
import { ScimHttp, TokenSource, type Json } from './scim-http.js';

const META_KEYS = ['meta', 'groups'];

/** How often a GET + PUT (of a group, or of a user) is tried again after 412 Precondition Failed before it fails (transiently). */
const PRECONDITION_ATTEMPTS = 5;

/**
 * One read-modify-write of a group at a time per target and group, across every connector
 * instance of this process (GET + PUT of a member list is not atomic on the service).
 */
const groupWrites = new KeyedMutex();

const hasMember = (group: Json | undefined, ref: string) => ((group?.['members'] as Json[] | undefined) ?? []).some((m) => m['value'] === ref);

/** A short random pause before reading again after a 412, so that two writers do not keep colliding. */
const preconditionPause = (attempt: number) => new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20 * attempt)));

/** A user as last read or written, with its version (ETag header, else meta.version) when the service gives one. */
interface KnownUser {
  body: Json;
  version: string | undefined;
}

const ownerOf = (r: Json): string | null => (typeof r['externalId'] === 'string' && r['externalId'] !== '' ? r['externalId'] : null);
const metaVersion = (r: Json): string | undefined => {
  const v = (r['meta'] as Json | undefined)?.['version'];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

/**
 * A generic SCIM 2.0 client (RFC 7643/7644) as a target: Users and Groups, look-up by
 * externalId (= personId, the ownership marker) and userName before create so existing
 * accounts are adopted rather than duplicated, PATCH (or PUT, per quirk profile or when the
 * service answers 405/501), `active` for enable/disable, group membership through the group.
 */
export class ScimConnector implements TargetConnector {
  private readonly http: ScimHttp;
  private update: 'patch' | 'put';
  private capitalized: boolean;
  private readonly groupIds = new Map<string, { id: string; at: number }>();
  private readonly groupNames = new Map<string, { name: string; at: number }>();
  /** The last representation read per user id (and its version), for PUT and for merging multi-valued attributes. */
  private readonly resources = new Map<string, KnownUser>();

  constructor(private readonly cfg: ScimTargetConfig) {
    const insecure = insecureUrls(cfg);
    if (insecure.length) throw new ConnectorError(ConnectorErrorCode.Configuration, `target ${cfg.id}: ${insecure.map((p) => `${p.path.join('.')} ${p.message}`).join('; ')}`);
    const profile = QUIRK_PROFILES[cfg.profile];
    this.update = cfg.quirks.update ?? profile.update;
    this.capitalized = cfg.quirks.capitalizedOps ?? profile.capitalizedOps;
    this.http = new ScimHttp(cfg.baseUrl, new TokenSource(cfg.auth, cfg.callTimeoutMs), cfg.headers, cfg.callTimeoutMs);
  }

  planOptions(): Partial<PlanOptions> {
    return { adoptUnowned: this.cfg.adoptExisting, groupsCaseInsensitive: false };
  }

  /** Which update style is in use now (it may have switched after a 405). */
  get updateStyle(): { update: 'patch' | 'put'; capitalizedOps: boolean } {
    return { update: this.update, capitalizedOps: this.capitalized };
  }

  /** Keeps a user's representation and version (the answer's ETag, else its meta.version). */
  private remember(r: Json, version?: string): Json {
    const id = String(r['id']);
    this.resources.delete(id);
    this.resources.set(id, { body: r, version: version ?? metaVersion(r) });
    if (this.resources.size > 10_000) this.resources.delete(this.resources.keys().next().value!);
    return r;
  }

  private toAccount(r: Json, groups: string[]): TargetAccount {
    return {
      ref: String(r['id']),
      name: String(r['userName'] ?? ''),
      owner: ownerOf(r),
      enabled: r['active'] !== false,
      attributes: readAttributes(r),
      groups,
    };
  }

  async ping(): Promise<void> {
    await this.http.request('GET', '/ServiceProviderConfig');
  }

  /**
   * The one resource whose attribute equals the value (RFC 7644 filter, escaping-safe: see
   * equalityLookup), or undefined. Answers are checked exactly here; a narrowing filter (values
   * with quotes or backslashes) is paged through to the end.
   */
  private async findOne(resource: 'Users' | 'Groups', lookup: EqualityLookup, attributes?: string): Promise<Json | undefined> {
    const found: Json[] = [];
    const pageSize = lookup.exact ? 2 : 200;
    for (let start = 1, seen = 0; ; ) {
      const r = await this.http.request('GET', `/${resource}?filter=${encodeURIComponent(lookup.filter)}&startIndex=${start}&count=${pageSize}${attributes ? `&attributes=${attributes}` : ''}`);
      const page = (r.body?.['Resources'] as Json[] | undefined) ?? [];
      found.push(...page.filter((x) => lookup.matches(x)));
      seen += page.length;
      if (lookup.exact || page.length === 0 || seen >= Number(r.body?.['totalResults'] ?? seen)) break;
      if (seen >= 20_000) throw new ConnectorError(ConnectorErrorCode.Rejected, `look-up by ${lookup.attribute} on ${resource} matches more than ${seen} resources; narrow the name`);
      start += page.length;
    }
    if (found.length > 1) throw new ConnectorError(ConnectorErrorCode.Rejected, `more than one ${resource === 'Users' ? 'user' : 'group'} has this ${lookup.attribute} exactly`);
    return found[0];
  }

  private async getUser(id: string): Promise<KnownUser | undefined> {
    const r = await this.http.request('GET', `/Users/${encodeURIComponent(id)}`, undefined, { accept: [404] });
    return r.status === 404 || !r.body ? undefined : { body: r.body, version: r.version };
  }

  /**
   * The user's groups by displayName, as commands name them. A service that lists a membership
   * without `display` gives only the group's id: the id is resolved to the group's displayName
   * (the ids of groups this connector resolved, else one GET per group, cached), so the
   * membership compares equal to the command's group and is not added again on every command.
   */
  private async membershipsOf(user: Json): Promise<string[]> {
    const listed = user['groups'] as Json[] | undefined;
    if (Array.isArray(listed)) {
      const names: string[] = [];
      for (const g of listed) {
        const display = g['display'];
        names.push(typeof display === 'string' && display !== '' ? display : await this.groupName(String(g['value'])));
      }
      return names;
    }
    const r = await this.http.request('GET', `/Groups?filter=${encodeURIComponent(`members.value eq ${scimString(String(user['id']))}`)}&attributes=displayName`);
    return ((r.body?.['Resources'] as Json[] | undefined) ?? []).map((g) => String(g['displayName']));
  }

  async readAccount(l: AccountLocator): Promise<TargetAccount | null> {
    let user: Json | undefined;
    let version: string | undefined;
    if (l.accountRef) {
      const byRef = await this.getUser(l.accountRef);
      if (byRef && byRef.body['externalId'] === l.personId) ({ body: user, version } = byRef);
    }
    user ??= await this.findOne('Users', equalityLookup('externalId', l.personId, true));
    user ??= await this.findOne('Users', equalityLookup('userName', l.accountName, false));
    if (!user) return null;
    return this.toAccount(this.remember(user, version), await this.membershipsOf(user));
  }

  /**
   * A batch's users in a few filtered GETs (`externalId eq … or userName eq …`, 50 persons a
   * request). Values that would need escapes in a filter are left to the one-by-one read.
   */
  async readAccounts(all: AccountLocator[]): Promise<Map<string, TargetAccount | null>> {
    const out = new Map<string, TargetAccount | null>();
    const locators = all.filter((l) => plainFilterValue(l.personId) && plainFilterValue(l.accountName));
    for (let i = 0; i < locators.length; i += 50) {
      const chunk = locators.slice(i, i + 50);
      const filter = chunk.map((l) => `externalId eq ${scimString(l.personId)} or userName eq ${scimString(l.accountName)}`).join(' or ');
      const r = await this.http.request('GET', `/Users?filter=${encodeURIComponent(filter)}&count=${chunk.length * 2}&attributes=id,userName,externalId`);
      const found = (r.body?.['Resources'] as Json[] | undefined) ?? [];
      if (Number(r.body?.['totalResults'] ?? found.length) > found.length) continue; // truncated page: read these one by one
      const owners = new Set(found.map((u) => u['externalId']));
      const names = new Set(found.map((u) => String(u['userName']).toLowerCase()));
      // Found ones are read one by one (full representation, memberships); a joiner batch finds few.
      for (const l of chunk) if (!owners.has(l.personId) && !names.has(l.accountName.toLowerCase())) out.set(l.personId, null);
    }
    return out;
  }

  async createAccount(d: DesiredAccount): Promise<TargetAccount> {
    const body: Json = { schemas: [USER_SCHEMA], userName: d.accountName, externalId: d.personId, active: d.state !== 'DISABLED' };
    for (const [k, v] of Object.entries(d.attributes)) setValue(body, pathOf(k), v);
    const r = await this.http.request('POST', '/Users', body, { accept: [409] });
    // 409: a uniqueness conflict. The kit re-reads: created meanwhile → adopt or refuse it; not findable (e.g. a unique email) → FAILED.
    if (r.status === 409) throw new ConnectorError(ConnectorErrorCode.AlreadyExists, `POST /Users answered 409: a uniqueness conflict (the userName or another unique attribute, e.g. an email, is taken)`, { status: 409 });
    return this.toAccount(this.remember(r.body!, r.version), []);
  }

  private async current(account: TargetAccount): Promise<KnownUser> {
    const known = this.resources.get(account.ref);
    if (known) return known;
    return this.reread(account);
  }

  private async reread(account: TargetAccount): Promise<KnownUser> {
    const fresh = await this.getUser(account.ref);
    if (!fresh) throw new ConnectorError(ConnectorErrorCode.Unavailable, `user ${account.ref} vanished`);
    this.remember(fresh.body, fresh.version);
    return fresh;
  }

  /** PATCH, or PUT of the whole resource — per profile, or learnt when the service refuses PATCH. */
  private async changeUser(account: TargetAccount, ops: PatchOperation[], apply: (resource: Json) => void): Promise<Json> {
    const path = `/Users/${encodeURIComponent(account.ref)}`;
    if (ops.length === 0) return (await this.current(account)).body;
    if (this.update === 'patch') {
      const r = await this.patch(path, ops);
      if (r !== 'unsupported') {
        if (r) return this.remember(r);
        return (await this.reread(account)).body;
      }
    }
    return this.putUser(account, path, apply);
  }

  /**
   * PUT of the whole user: the representation last read with the change applied. With a version
   * (ETag header or meta.version) the PUT carries If-Match, and a 412 — someone else changed the
   * user since our read — reads it again and applies the change to what is there now (their
   * changes kept), up to PRECONDITION_ATTEMPTS times, then fails transiently. A user that another
   * writer gave to someone else (externalId) meanwhile is not written: a transient failure, and the
   * kit's retry reads and plans afresh (and refuses another person's account).
   */
  private async putUser(account: TargetAccount, path: string, apply: (resource: Json) => void): Promise<Json> {
    let base = await this.current(account);
    for (let attempt = 1; ; attempt++) {
      const resource = structuredClone(base.body);
      for (const k of META_KEYS) delete resource[k];
      apply(resource);
      const r = await this.http.request('PUT', path, resource, base.version ? { accept: [412], headers: { 'if-match': base.version } } : {});
      if (r.status !== 412) return this.remember(r.body ?? resource, r.version);
      this.resources.delete(account.ref);
      if (attempt >= PRECONDITION_ATTEMPTS) {
        throw new ConnectorError(ConnectorErrorCode.Unavailable, `PUT ${path} answered 412 Precondition Failed ${PRECONDITION_ATTEMPTS} times: the user keeps changing under other writers`, { status: 412 });
      }
      await preconditionPause(attempt);
      base = await this.reread(account);
      if (ownerOf(base.body) !== account.owner) {
        throw new ConnectorError(ConnectorErrorCode.Unavailable, `PUT ${path}: another writer changed the user's externalId since it was read; reading it again`);
      }
    }
  }

  private async patch(path: string, ops: PatchOperation[]): Promise<Json | undefined | 'unsupported'> {
    const send = (capitalized: boolean) =>
      this.http.request('PATCH', path, { schemas: [PATCH_SCHEMA], Operations: ops.map((o) => ({ ...o, op: capitalized ? `${o.op[0]!.toUpperCase()}${o.op.slice(1).toLowerCase()}` : o.op.toLowerCase() })) }, { accept: [400, 405, 501] });
    let r = await send(this.capitalized);
    if (r.status === 405 || r.status === 501) {
      // The service does not do PATCH: PUT from now on.
      this.update = 'put';
      return 'unsupported';
    }
    if (r.status === 400 && /\bop\b|operation/i.test(String(r.body?.['detail'] ?? ''))) {
      // Some services insist on the other spelling of op names: try it and keep it when it works.
      const retry = await send(!this.capitalized);
      if (retry.status < 300) {
        this.capitalized = !this.capitalized;
        r = retry;
      }
    }
    if (r.status >= 400) throw new ConnectorError(ConnectorErrorCode.Rejected, `PATCH ${path} answered ${r.status} (${scrubTargetText(String(r.body?.['detail'] ?? '')).slice(0, 300)})`, { status: r.status });
    return r.status === 204 ? undefined : r.body;
  }

  async updateAccount(account: TargetAccount, patch: AccountPatch): Promise<TargetAccount> {
    const current = (await this.current(account)).body;
    const ops: PatchOperation[] = [];
    if (patch.name !== undefined) ops.push({ op: 'replace', path: 'userName', value: patch.name });
    if (patch.owner !== undefined) ops.push({ op: 'replace', path: 'externalId', value: patch.owner });
    if (patch.attributes) ops.push(...patchOperations(current, patch.attributes, false));
    const updated = await this.changeUser(account, ops, (r) => {
      if (patch.name !== undefined) r['userName'] = patch.name;
      if (patch.owner !== undefined) r['externalId'] = patch.owner;
      for (const [k, v] of Object.entries(patch.attributes ?? {})) setValue(r, pathOf(k), v);
    });
    return this.toAccount(updated, account.groups);
  }

  async enableAccount(account: TargetAccount): Promise<void> {
    await this.changeUser(account, [{ op: 'replace', path: 'active', value: true }], (r) => (r['active'] = true));
  }

  async disableAccount(account: TargetAccount): Promise<void> {
    await this.changeUser(account, [{ op: 'replace', path: 'active', value: false }], (r) => (r['active'] = false));
  }

  async deleteAccount(account: TargetAccount): Promise<void> {
    await this.http.request('DELETE', `/Users/${encodeURIComponent(account.ref)}`, undefined, { accept: [404] });
    this.resources.delete(account.ref);
  }

  async listAccounts(cursor: string | null, pageSize: number): Promise<Page<TargetAccount>> {
    const start = cursor === null ? 1 : Number(cursor);
    const r = await this.http.request('GET', `/Users?startIndex=${start}&count=${pageSize}`);
    const users = (r.body?.['Resources'] as Json[] | undefined) ?? [];
    const total = Number(r.body?.['totalResults'] ?? 0);
    const items: TargetAccount[] = [];
    for (const u of users) items.push(this.toAccount(u, await this.membershipsOf(u)));
    const next = start + users.length;
    return { items, next: users.length > 0 && next <= total ? String(next) : null };
  }

  private async groupName(id: string): Promise<string> {
    const now = Date.now();
    for (const [name, v] of this.groupIds) if (v.id === id && now - v.at < 60_000) return name;
    const cached = this.groupNames.get(id);
    if (cached && now - cached.at < 60_000) return cached.name;
    const r = await this.http.request('GET', `/Groups/${encodeURIComponent(id)}?attributes=displayName`, undefined, { accept: [404] });
    const name = r.status === 404 ? undefined : r.body?.['displayName'];
    // A group that is gone (or has no name) stays its id: it matches no command's group.
    if (typeof name !== 'string' || name === '') return id;
    this.groupNames.set(id, { name, at: now });
    if (this.groupNames.size > 10_000) this.groupNames.delete(this.groupNames.keys().next().value!);
    return name;
  }

  private async groupId(name: string): Promise<string> {
    const cached = this.groupIds.get(name);
    if (cached && Date.now() - cached.at < 60_000) return cached.id;
    const g = await this.findOne('Groups', equalityLookup('displayName', name, false), 'displayName');
    if (!g) throw new ConnectorError(ConnectorErrorCode.GroupNotFound, `group ${name} does not exist on target ${this.cfg.id}`);
    this.groupIds.set(name, { id: String(g['id']), at: Date.now() });
    return String(g['id']);
  }

  private async changeMembers(group: string, account: TargetAccount, add: boolean): Promise<void> {
    const id = await this.groupId(group);
    const path = `/Groups/${encodeURIComponent(id)}`;
    if (this.update === 'patch') {
      const op: PatchOperation = add ? { op: 'add', path: 'members', value: [{ value: account.ref }] } : { op: 'remove', path: `members[value eq ${scimString(account.ref)}]` };
      if ((await this.patch(path, [op])) !== 'unsupported') return;
    }
    await groupWrites.run(`${this.cfg.id}\u0000${id}`, () => this.putMembers(path, account.ref, add));
  }

  /**
   * GET + PUT of the group's member list (services without PATCH), under the group's lock. With
   * a version from the GET (ETag header or meta.version) the PUT carries If-Match, and a 412 —
   * someone else (another replica, an administrator) changed the group in between — reads it
   * again and retries. After the PUT the group is read once more: a change that another writer
   * overwrote meanwhile (a service without ETags, or one that sends ETags but ignores If-Match, or
   * a writer that does not send it) fails transiently — the kit retries the command — instead of
   * being reported as done.
   */
  private async putMembers(path: string, ref: string, add: boolean): Promise<void> {
    for (let attempt = 1; attempt <= PRECONDITION_ATTEMPTS; attempt++) {
      const read = await this.http.request('GET', path);
      if (hasMember(read.body, ref) === add) return; // already as wanted (e.g. a retry after a lost answer)
      const g = { ...read.body! };
      delete g['meta'];
      const members = ((g['members'] as Json[] | undefined) ?? []).filter((m) => m['value'] !== ref);
      g['members'] = add ? [...members, { value: ref }] : members;
      g['schemas'] ??= [GROUP_SCHEMA];
      const version = read.version;
      const put = await this.http.request('PUT', path, g, version ? { accept: [412], headers: { 'if-match': version } } : {});
      if (put.status === 412) {
        // Changed since our GET: read again, after a short random pause so two writers do not keep colliding.
        await preconditionPause(attempt);
        continue;
      }
      const check = await this.http.request('GET', path);
      if (hasMember(check.body, ref) !== add) {
        throw new ConnectorError(ConnectorErrorCode.Unavailable, `PUT ${path}: the membership change did not hold (another writer replaced the member list meanwhile)`);
      }
      return;
    }
    throw new ConnectorError(ConnectorErrorCode.Unavailable, `PUT ${path} answered 412 Precondition Failed ${PRECONDITION_ATTEMPTS} times: the group keeps changing under other writers`, { status: 412 });
  }

  async addGroupMembership(account: TargetAccount, group: string): Promise<void> {
    await this.changeMembers(group, account, true);
  }

  async removeGroupMembership(account: TargetAccount, group: string): Promise<void> {
    await this.changeMembers(group, account, false);
  }

  async listGroups(cursor: string | null, pageSize: number): Promise<Page<TargetGroup>> {
    const start = cursor === null ? 1 : Number(cursor);
    const r = await this.http.request('GET', `/Groups?startIndex=${start}&count=${pageSize}`);
    const groups = (r.body?.['Resources'] as Json[] | undefined) ?? [];
    const total = Number(r.body?.['totalResults'] ?? 0);
    const next = start + groups.length;
    return {
      items: groups.map((g) => ({ name: String(g['displayName']), ref: String(g['id']), memberCount: ((g['members'] as unknown[] | undefined) ?? []).length })),
      next: groups.length > 0 && next <= total ? String(next) : null,
    };
  }

  async close(): Promise<void> {
    this.resources.clear();
    await this.http.close();
  }
}
