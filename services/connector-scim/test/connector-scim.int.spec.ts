import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunningService } from '@provisio/platform';
import { ScimTestServer, createTestDatabase, provisioningCommand, startConnectorService, type ConnectorUnderTest, type TestDatabase } from '@provisio/testing';
import { bootstrap } from '../src/bootstrap.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
type Json = Record<string, unknown>;

/**
 * connector-scim through its real entry point against real SCIM 2.0 service providers built from
 * scimmy + scimmy-routers: a well-behaved one (bearer token) and a quirky one (OAuth2 client
 * credentials, no PATCH, capitalised op names, throttling).
 */
describe('connector-scim against real SCIM 2.0 servers', () => {
  let app: ScimTestServer;
  let quirky: ScimTestServer;
  let putOnly: ScimTestServer;
  let storm: ScimTestServer;
  let db: TestDatabase;
  let svc: ConnectorUnderTest<RunningService>;

  const usersNamed = (s: ScimTestServer, userName: string) => [...s.store.users.values()].filter((u) => String(u['userName']).toLowerCase() === userName.toLowerCase());
  const group = (s: ScimTestServer, name: string) => [...s.store.groups.values()].find((g) => g['displayName'] === name)!;
  const memberIds = (s: ScimTestServer, name: string) => ((group(s, name)['members'] as Json[] | undefined) ?? []).map((m) => m['value']);
  const resultFor = (commandId: string) => svc.results.waitFor((v) => v.find((r) => r.commandId === commandId), { what: `result of ${commandId}` });

  beforeAll(async () => {
    [app, quirky, putOnly, storm] = await Promise.all([ScimTestServer.start(), ScimTestServer.start(), ScimTestServer.start(), ScimTestServer.start()]);
    for (const s of [app, quirky, putOnly, storm]) {
      for (const displayName of ['engineering', 'sales']) {
        const id = `g-${displayName}`;
        s.store.groups.set(id, { id, schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName, members: [], meta: {} });
      }
    }
    app.store.users.set('pre-1', { id: 'pre-1', schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'pre.existing', active: true, meta: {} });
    app.store.users.set('pre-2', { id: 'pre-2', schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'O"Brien\\Sean', active: true, meta: {} });
    app.store.users.set('victim', { id: 'victim', schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'victim', active: true, meta: {} });
    db = await createTestDatabase('scimc');
    const targets = [
      { id: 'app', baseUrl: app.url, allowInsecureHttp: true, auth: { type: 'bearer', token: { env: 'APP_TOKEN' } } },
      {
        id: 'quirky',
        baseUrl: quirky.url,
        allowInsecureHttp: true,
        auth: { type: 'oauth2', tokenUrl: quirky.tokenUrl, clientId: quirky.client.id, clientSecret: { env: 'QUIRKY_SECRET' } },
        retry: { initialMs: 50, maxMs: 500 },
      },
      { id: 'putonly', baseUrl: putOnly.url, allowInsecureHttp: true, auth: { type: 'bearer', token: { env: 'PUTONLY_TOKEN' } }, profile: 'put-only' },
      { id: 'storm', baseUrl: storm.url, allowInsecureHttp: true, auth: { type: 'bearer', token: { env: 'STORM_TOKEN' } }, retry: { initialMs: 50, maxMs: 500 } },
    ];
    svc = await startConnectorService('scim', bootstrap, { databaseUrl: db.url, targets, env: { APP_TOKEN: app.token, QUIRKY_SECRET: quirky.client.secret, PUTONLY_TOKEN: putOnly.token, STORM_TOKEN: storm.token } });
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await Promise.all([app?.close(), quirky?.close(), putOnly?.close(), storm?.close()]);
    await db?.drop();
  }, 60_000);

  it('creates a user with externalId, mapped attributes and group membership; a replay changes nothing', async () => {
    const c = provisioningCommand({
      personId: 'p-ada', target: 'app', targetKind: 'scim', accountName: 'ada@example.org',
      attributes: { givenName: 'Ada', familyName: 'Lovelace', displayName: 'Ada Lovelace', mail: 'ada@example.org', department: 'R&D' },
      groups: ['engineering'],
    });
    await svc.sender.send('scim', [c]);
    const r = await resultFor(c.commandId);
    expect(r).toMatchObject({ status: 'APPLIED', operations: [{ type: 'CREATE', detail: null }, { type: 'ADD_MEMBERSHIP', detail: 'engineering' }] });
    const [user] = usersNamed(app, 'ada@example.org');
    expect(user).toMatchObject({ externalId: 'p-ada', active: true, displayName: 'Ada Lovelace', name: { givenName: 'Ada', familyName: 'Lovelace' }, emails: [{ type: 'work', value: 'ada@example.org' }] });
    expect((user![ENTERPRISE] as Json)['department']).toBe('R&D');
    expect(r.accountRef).toBe(user!['id']);
    expect(memberIds(app, 'engineering')).toEqual([user!['id']]);
    const again = { ...c, commandId: `${c.commandId}-replay` };
    await svc.sender.send('scim', [again]);
    expect(await resultFor(again.commandId)).toMatchObject({ status: 'NO_CHANGE', operations: [] });
  });

  it('looks up by userName before creating and adopts the existing account instead of duplicating it', async () => {
    const c = provisioningCommand({ personId: 'p-pre', target: 'app', targetKind: 'scim', accountName: 'pre.existing', attributes: { title: 'Engineer' } });
    await svc.sender.send('scim', [c]);
    const r = await resultFor(c.commandId);
    expect(r.operations).toEqual([{ type: 'UPDATE', detail: 'owner' }, { type: 'UPDATE', detail: 'title' }]);
    expect(usersNamed(app, 'pre.existing')).toEqual([expect.objectContaining({ id: 'pre-1', externalId: 'p-pre', title: 'Engineer' })]);
  });

  it('looks up hostile userNames (quotes, backslashes) safely: adopts the one exact match, never another account through the filter', async () => {
    // An existing user whose name needs escapes in a filter: found by its exact name and adopted, not duplicated.
    const adopt = provisioningCommand({ personId: 'p-obrien', target: 'app', targetKind: 'scim', accountName: 'O"Brien\\Sean', attributes: { title: 'Quoted' } });
    // A name crafted to widen the filter to someone else's account: it must get an account of its own.
    const inject = provisioningCommand({ personId: 'p-inject', target: 'app', targetKind: 'scim', accountName: 'nobody" or userName eq "victim', attributes: { title: 'Injected' } });
    await svc.sender.send('scim', [adopt, inject]);
    expect(await resultFor(adopt.commandId)).toMatchObject({ status: 'APPLIED', accountRef: 'pre-2', operations: [{ type: 'UPDATE', detail: 'owner' }, { type: 'UPDATE', detail: 'title' }] });
    expect(usersNamed(app, 'O"Brien\\Sean')).toEqual([expect.objectContaining({ id: 'pre-2', externalId: 'p-obrien', title: 'Quoted' })]);
    const injected = await resultFor(inject.commandId);
    expect(injected).toMatchObject({ status: 'APPLIED', operations: [{ type: 'CREATE', detail: null }] });
    expect(usersNamed(app, 'nobody" or userName eq "victim')).toEqual([expect.objectContaining({ id: injected.accountRef, externalId: 'p-inject' })]);
    expect(app.store.users.get('victim')).not.toHaveProperty('externalId');
    expect(app.store.users.get('victim')).not.toHaveProperty('title');

    // A later version converges to no change: still one account.
    const again = provisioningCommand({ personId: 'p-obrien', target: 'app', targetKind: 'scim', version: 2, accountName: 'O"Brien\\Sean', attributes: { title: 'Quoted' } });
    await svc.sender.send('scim', [again]);
    expect(await resultFor(again.commandId)).toMatchObject({ status: 'NO_CHANGE' });
    expect(usersNamed(app, 'O"Brien\\Sean')).toHaveLength(1);
    expect(svc.dlt.records).toHaveLength(0);
  });

  it('renames, patches attributes, moves groups, disables with active:false and deletes (PATCH with RFC 7644 PatchOp)', async () => {
    const base = { personId: 'p-bob', target: 'app', targetKind: 'scim' } as const;
    const v1 = provisioningCommand({ ...base, accountName: 'bob', attributes: { givenName: 'Bob', mail: 'bob@x.org', mobile: '+1 555' }, groups: ['engineering'] });
    const v2 = provisioningCommand({ ...base, version: 2, accountName: 'robert', attributes: { givenName: 'Robert', mail: 'robert@x.org', mobile: null }, groups: ['sales'] });
    const v3 = provisioningCommand({ ...base, version: 3, state: 'DISABLED', accountName: 'robert', attributes: { givenName: 'Robert', mail: 'robert@x.org', mobile: null }, groups: ['sales'] });
    await svc.sender.send('scim', [v1, v2, v3]);
    expect((await resultFor(v2.commandId)).operations.map((o) => o.type)).toEqual(['RENAME', 'UPDATE', 'REMOVE_MEMBERSHIP', 'ADD_MEMBERSHIP']);
    expect((await resultFor(v3.commandId)).operations).toEqual([{ type: 'DISABLE', detail: null }]);
    const [user] = usersNamed(app, 'robert');
    expect(user).toMatchObject({ externalId: 'p-bob', active: false, name: { givenName: 'Robert' }, emails: [{ type: 'work', value: 'robert@x.org' }] });
    expect(usersNamed(app, 'bob')).toEqual([]);
    expect(memberIds(app, 'sales')).toEqual([user!['id']]);
    expect(memberIds(app, 'engineering')).not.toContain(user!['id']);
    expect(app.requests.filter((q) => q.method === 'PUT')).toEqual([]);

    const v4 = provisioningCommand({ ...base, version: 4, state: 'ABSENT', accountName: 'robert' });
    await svc.sender.send('scim', [v4]);
    expect((await resultFor(v4.commandId)).operations).toEqual([{ type: 'DELETE', detail: null }]);
    expect(usersNamed(app, 'robert')).toEqual([]);
    expect(memberIds(app, 'sales')).toEqual([]);
  });

  it('copes with a quirky service: OAuth2 client credentials (renewed after revocation), no PATCH → PUT, capitalised op names', async () => {
    quirky.faults = { requireCapitalizedOps: true };
    const base = { personId: 'p-q', target: 'quirky', targetKind: 'scim' } as const;
    const v1 = provisioningCommand({ ...base, accountName: 'quinn', attributes: { title: 'A' }, groups: ['engineering'] });
    await svc.sender.send('scim', [v1]);
    expect((await resultFor(v1.commandId)).status).toBe('APPLIED');
    // The group PATCH with lower-case op names got a 400 once; the connector switched to Add/Replace/Remove.
    expect(quirky.requests.filter((q) => q.method === 'PATCH').map((q) => q.status)).toEqual([400, 200]);

    quirky.revokeIssuedTokens();
    quirky.faults = { patchUnsupported: true };
    const v2 = provisioningCommand({ ...base, version: 2, accountName: 'quinn', attributes: { title: 'B' }, groups: ['sales'] });
    await svc.sender.send('scim', [v2]);
    expect(await resultFor(v2.commandId)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'UPDATE', detail: 'title' }, { type: 'REMOVE_MEMBERSHIP', detail: 'engineering' }, { type: 'ADD_MEMBERSHIP', detail: 'sales' }] });
    const [user] = usersNamed(quirky, 'quinn');
    expect(user).toMatchObject({ title: 'B', externalId: 'p-q' });
    expect(memberIds(quirky, 'sales')).toEqual([user!['id']]);
    expect(quirky.requests.filter((q) => q.method === 'PUT' && q.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(svc.dlt.records).toHaveLength(0);
  });

  it('a 429 storm: dozens of 429s with Retry-After across many commands of many persons; nothing lost or dead-lettered, no request before the advertised time, every 429 counted', async () => {
    const persons = Array.from({ length: 12 }, (_, i) => `p-storm-${i}`);
    const RETRY_AFTER_S = 1;
    storm.faults = { rateLimit: { count: 48, retryAfterSeconds: RETRY_AFTER_S } };
    const commands = persons.flatMap((personId, i) => {
      const base = { personId, target: 'storm', targetKind: 'scim', accountName: `storm${i}` } as const;
      return [
        provisioningCommand({ ...base, attributes: { title: 'v1' }, groups: ['engineering'] }),
        provisioningCommand({ ...base, version: 2, attributes: { title: 'v2' }, groups: ['engineering'] }),
        provisioningCommand({ ...base, version: 3, attributes: { title: 'v3' }, groups: ['sales'] }),
      ];
    });
    const started = Date.now();
    await svc.sender.send('scim', commands);
    const settled = await Promise.all(commands.map((c) => resultFor(c.commandId)));
    expect(settled.map((r) => r.status)).toEqual(commands.map(() => 'APPLIED'));
    expect(Date.now() - started).toBeLessThan(30_000);
    // The end state is every person's last version.
    for (const [i, personId] of persons.entries()) expect(usersNamed(storm, `storm${i}`)).toEqual([expect.objectContaining({ externalId: personId, title: 'v3' })]);
    expect(memberIds(storm, 'sales')).toHaveLength(persons.length);
    expect(memberIds(storm, 'engineering')).toEqual([]);
    expect(svc.dlt.records).toHaveLength(0);

    // Every advertised 429 was answered, and it was a storm: many, spread over several rounds.
    const limited = storm.requests.filter((q) => q.status === 429);
    expect(limited).toHaveLength(48);
    expect(limited.every((q) => q.retryAfterSeconds === RETRY_AFTER_S)).toBe(true);
    // Retry-After honoured: after a 429 is answered, no request arrives before the advertised time.
    // Requests the connector had sent before it read the 429 may still arrive just after it; they
    // are allowed a short grace (the same machine, so milliseconds — generous for a loaded one).
    const GRACE_MS = 150;
    const early = storm.requests.filter((q) => limited.some((l) => q.at >= l.done + GRACE_MS && q.at < l.done + RETRY_AFTER_S * 1000));
    expect(early).toEqual([]);
    // And the storm took at least as long as its pauses: the 48 429s came in several rounds.
    const rounds = new Set(limited.map((l) => Math.floor((l.done - limited[0]!.done) / (RETRY_AFTER_S * 1000)))).size;
    expect(rounds).toBeGreaterThanOrEqual(3);
    const metrics = await (await fetch(`${svc.service.url}/metrics`)).text();
    expect(metrics).toMatch(/provisio_connector_errors_total\{[^}]*target="storm"[^}]*error_class="rate_limited"[^}]*\} 48\n/);
  }, 60_000);

  it('group membership by PUT (a put-only service without ETags): many persons joining and leaving one group at once, every membership lands and every removal holds', async () => {
    const persons = Array.from({ length: 16 }, (_, i) => `p-put-${i}`);
    const join = persons.map((personId, i) => provisioningCommand({ personId, target: 'putonly', targetKind: 'scim', accountName: `putter${i}`, groups: ['engineering'] }));
    await svc.sender.send('scim', join);
    for (const c of join) expect(await resultFor(c.commandId)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'CREATE', detail: null }, { type: 'ADD_MEMBERSHIP', detail: 'engineering' }] });
    const ids = persons.map((_, i) => usersNamed(putOnly, `putter${i}`)[0]!['id']);
    expect(memberIds(putOnly, 'engineering').sort()).toEqual([...ids].sort());

    const move = persons.map((personId, i) => provisioningCommand({ personId, target: 'putonly', targetKind: 'scim', version: 2, accountName: `putter${i}`, groups: ['sales'] }));
    await svc.sender.send('scim', move);
    for (const c of move) expect(await resultFor(c.commandId)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'REMOVE_MEMBERSHIP', detail: 'engineering' }, { type: 'ADD_MEMBERSHIP', detail: 'sales' }] });
    expect(memberIds(putOnly, 'engineering')).toEqual([]);
    expect(memberIds(putOnly, 'sales').sort()).toEqual([...ids].sort());
    expect(putOnly.requests.filter((q) => q.method === 'PATCH')).toEqual([]);
    expect(svc.dlt.records).toHaveLength(0);
  });
  it('a uniqueness conflict on another attribute (a taken email) fails that person for good, says so without personal data, and stalls no one else', async () => {
    app.store.uniqueEmails = true;
    try {
      const first = provisioningCommand({ personId: 'p-lin1', target: 'app', targetKind: 'scim', accountName: 'lin.first', attributes: { mail: 'lin@example.org' } });
      const second = provisioningCommand({ personId: 'p-lin2', target: 'app', targetKind: 'scim', accountName: 'lin.second', attributes: { mail: 'LIN@example.org' } });
      const after = provisioningCommand({ personId: 'p-after', target: 'app', targetKind: 'scim', accountName: 'after.conflict', attributes: { mail: 'after@example.org' } });
      // Different people run in parallel: the first holds the address before the others come.
      await svc.sender.send('scim', [first]);
      expect(await resultFor(first.commandId)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'CREATE', detail: null }] });
      await svc.sender.send('scim', [second, after]);
      const failed = await resultFor(second.commandId);
      expect(failed).toMatchObject({ status: 'FAILED', accountRef: null, error: { code: 'TARGET_ALREADY_EXISTS', retriable: false } });
      expect(failed.error!.message).toMatch(/409/);
      expect(failed.error!.message).not.toMatch(/lin\.second|lin@example/i);
      expect(await resultFor(after.commandId)).toMatchObject({ status: 'APPLIED' });
      // Nothing half-written: no account for the refused person, one for each of the others.
      expect(usersNamed(app, 'lin.second')).toHaveLength(0);
      expect(usersNamed(app, 'lin.first')).toHaveLength(1);
      expect(usersNamed(app, 'after.conflict')).toHaveLength(1);
      // The permanent failure is dead-lettered (once).
      await svc.dlt.waitFor((records) => (records.length >= 1 ? records : undefined), { what: 'the dead-lettered conflict' });
      expect(svc.dlt.records).toHaveLength(1);
    } finally {
      app.store.uniqueEmails = false;
    }
  });
});
