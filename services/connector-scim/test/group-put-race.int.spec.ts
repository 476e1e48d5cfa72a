import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode, type TargetAccount } from '@provisio/connector-kit';
import { ScimTestServer, type ScimRequestHook, type ScimRequestRecord } from '@provisio/testing';
import { rejectionOf } from '@provisio/testing/expect';
import { ScimConnector } from '../src/scim/scim.connector.js';
import { GROUP_SCHEMA, USER_SCHEMA, foreignUpdate as foreignPut, interleave as interleaveOn, scimTarget, type Json } from './scim-test-kit.js';

/**
 * Group membership by GET + PUT of the member list (put-only services, or after a 405 to PATCH)
 * against the real SCIM test server: concurrent changes of one group must not overwrite each
 * other, and another writer's change between our GET and PUT must survive (ETag / If-Match).
 */
describe('connector-scim group membership by PUT under concurrency', () => {
  let server: ScimTestServer;
  const N = 8;
  const opened: ScimConnector[] = [];

  const connectorFor = (id: string) => {
    const connector = new ScimConnector(scimTarget(server, id, { profile: 'put-only' }));
    opened.push(connector);
    return connector;
  };
  const account = (ref: string): TargetAccount => ({ ref, name: ref, owner: null, enabled: true, attributes: {}, groups: [] });
  const members = (groupId: string) => ((server.store.groups.get(groupId)!['members'] as Json[] | undefined) ?? []).map((m) => String(m['value'])).sort();
  const groupPath = (groupId: string) => `/scim/v2/Groups/${groupId}`;
  const writesTo = (groupId: string) => server.requests.filter((q) => q.path === groupPath(groupId) && q.method === 'PUT');
  /** The most requests to one path the server was handling at the same time. */
  const maxOverlap = (reqs: ScimRequestRecord[]) => Math.max(0, ...reqs.map((a) => reqs.filter((b) => b.at < a.done && a.at < b.done).length));

  /** Another writer (an administrator, another replica) changes the group by GET + PUT, with If-Match when the server gives versions. */
  const foreignUpdate = (groupId: string, change: (members: Json[]) => Json[]) =>
    foreignPut(server, `/Groups/${groupId}`, (group) => ({ schemas: group['schemas'], displayName: group['displayName'], members: change((group['members'] as Json[] | undefined) ?? []) }));
  const interleave = (hook: ScimRequestHook) => interleaveOn(server, hook);

  const addGroup = (id: string, initial: string[] = []) =>
    server.store.groups.set(id, { id, schemas: [GROUP_SCHEMA], displayName: id, members: initial.map((value) => ({ value })), meta: {} });

  beforeAll(async () => {
    server = await ScimTestServer.start();
    for (let i = 1; i <= N; i++) server.store.users.set(`u-${i}`, { id: `u-${i}`, schemas: [USER_SCHEMA], userName: `user${i}`, active: true, meta: {} });
    server.store.users.set('admin-made', { id: 'admin-made', schemas: [USER_SCHEMA], userName: 'admin.made', active: true, meta: {} });
  });

  afterEach(() => {
    server.beforeHandling = undefined;
    server.faults = {};
    server.store.etags = false;
  });

  afterAll(async () => {
    for (const c of opened) await c.close();
    await server?.close();
  });

  const users = Array.from({ length: N }, (_, i) => `u-${i + 1}`);

  for (const etags of [false, true]) {
    it(`${N} concurrent adds to one group all land, and ${N} concurrent removals all hold (${etags ? 'with' : 'without'} ETags)`, async () => {
      server.store.etags = etags;
      const g = `staff-${etags ? 'etag' : 'plain'}`;
      addGroup(g, ['admin-made']);
      const connector = connectorFor('put-target');
      server.faults = { latencyMs: 5 }; // the GETs and PUTs of different calls interleave on the server
      await Promise.all(users.map((u) => connector.addGroupMembership(account(u), g)));
      expect(members(g)).toEqual(['admin-made', ...users].sort());
      // One read-modify-write of the group at a time.
      expect(maxOverlap(server.requests.filter((q) => q.path === groupPath(g)))).toBe(1);
      if (etags) expect(writesTo(g).every((q) => q.ifMatch?.startsWith('W/"'))).toBe(true);
      else expect(writesTo(g).every((q) => q.ifMatch === undefined)).toBe(true);

      await Promise.all(users.map((u) => connector.removeGroupMembership(account(u), g)));
      expect(members(g)).toEqual(['admin-made']);
      // A second connector for the same target (same process) shares the lock; re-adding and removing is idempotent.
      const other = connectorFor('put-target');
      await Promise.all(users.slice(0, 4).flatMap((u) => [connector.addGroupMembership(account(u), g), other.addGroupMembership(account(u), g)]));
      expect(members(g)).toEqual(['admin-made', ...users.slice(0, 4)].sort());
    });
  }

  it('does not serialise unrelated groups: writes to two groups overlap', async () => {
    addGroup('left');
    addGroup('right');
    const connector = connectorFor('put-target');
    // The first request to either group is held until one to the other group arrives (and a
    // moment longer): a lock over both groups would never send that one while the first is
    // unfinished (the hold then gives up after 5 s).
    const arrivedAt: Record<string, () => void> = {};
    const arrived = Object.fromEntries(['left', 'right'].map((g) => [g, new Promise<void>((r) => (arrivedAt[g] = r))])) as Record<string, Promise<void>>;
    let held: string | undefined;
    let sawOtherWhileHeld = false;
    server.beforeHandling = async (req) => {
      const which = req.path === groupPath('left') ? 'left' : req.path === groupPath('right') ? 'right' : undefined;
      if (!which) return;
      arrivedAt[which]!();
      if (held) return;
      held = which;
      const other = arrived[which === 'left' ? 'right' : 'left']!;
      sawOtherWhileHeld = await Promise.race([other.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
      await new Promise((r) => setTimeout(r, 20));
    };
    try {
      await Promise.all([connector.addGroupMembership(account('u-1'), 'left'), connector.addGroupMembership(account('u-1'), 'right')]);
    } finally {
      server.beforeHandling = undefined;
    }
    expect(sawOtherWhileHeld).toBe(true);
    const reqs = server.requests.filter((q) => q.path === groupPath('left') || q.path === groupPath('right'));
    // The held request of one group overlaps the other group's requests.
    expect(maxOverlap(reqs)).toBeGreaterThanOrEqual(2);
    expect(members('left')).toEqual(['u-1']);
    expect(members('right')).toEqual(['u-1']);
  });

  it('another writer changing the group between our GET and PUT: 412 Precondition Failed, read again, both changes kept', async () => {
    server.store.etags = true;
    addGroup('ops', ['u-8']);
    const connector = connectorFor('put-target');
    let interleaved = 0;
    interleave(async (req) => {
      if (req.method !== 'PUT' || req.path !== groupPath('ops') || interleaved > 0) return;
      interleaved++;
      // Just before the connector's PUT is handled, an administrator adds one member and removes another.
      await foreignUpdate('ops', (m) => [...m.filter((x) => x['value'] !== 'u-8'), { value: 'admin-made' }]);
    });
    await connector.addGroupMembership(account('u-1'), 'ops');
    expect(interleaved).toBe(1);
    expect(members('ops')).toEqual(['admin-made', 'u-1']);
    // The administrator's PUT, then the connector's first PUT refused (stale version) and its second, after reading again.
    expect(writesTo('ops').map((q) => q.status)).toEqual([200, 412, 200]);
    expect(writesTo('ops').every((q) => q.ifMatch !== undefined)).toBe(true);

    // Same for a removal: the other writer's addition survives, the removal holds.
    let again = 0;
    interleave(async (req) => {
      if (req.method !== 'PUT' || req.path !== groupPath('ops') || req.ifMatch === undefined || again > 0) return;
      again++;
      await foreignUpdate('ops', (m) => [...m, { value: 'u-5' }]);
    });
    await connector.removeGroupMembership(account('u-1'), 'ops');
    expect(members('ops')).toEqual(['admin-made', 'u-5']);
  });

  it('a group that keeps changing under other writers: a bounded number of attempts, then a transient error; nothing of theirs lost', async () => {
    server.store.etags = true;
    addGroup('busy');
    const connector = connectorFor('put-target');
    let foreign = 0;
    interleave(async (req) => {
      if (req.method !== 'PUT' || req.path !== groupPath('busy') || req.ifMatch === undefined) return;
      foreign++;
      await foreignUpdate('busy', (m) => [...m, { value: `u-${foreign + 1}` }]);
    });
    const failure = await rejectionOf(connector.addGroupMembership(account('u-1'), 'busy'), ConnectorError);
    expect(failure.code).toBe(ConnectorErrorCode.Unavailable);
    expect(failure.message).toMatch(/412/);
    expect(foreign).toBe(5);
    expect(members('busy')).toEqual(['u-2', 'u-3', 'u-4', 'u-5', 'u-6']);
    // Once the others are done, the kit's retry of the command succeeds.
    server.beforeHandling = undefined;
    await connector.addGroupMembership(account('u-1'), 'busy');
    expect(members('busy')).toEqual(['u-1', 'u-2', 'u-3', 'u-4', 'u-5', 'u-6']);
  });

  it('without ETags, a change another writer overwrites right after our PUT is not reported as done (transient error, the retry puts it back)', async () => {
    addGroup('plain');
    const connector = connectorFor('put-target');
    let puts = 0;
    interleave(async (req) => {
      if (req.path !== groupPath('plain')) return;
      if (req.method === 'PUT') puts++;
      // The GET that follows our first PUT: a stale writer has put its old member list back just before.
      else if (puts === 1 && req.method === 'GET') {
        puts++;
        await foreignUpdate('plain', () => [{ value: 'admin-made' }]);
      }
    });
    await expect(connector.addGroupMembership(account('u-3'), 'plain')).rejects.toMatchObject({ code: ConnectorErrorCode.Unavailable, message: expect.stringMatching(/did not hold/) });
    server.beforeHandling = undefined;
    await connector.addGroupMembership(account('u-3'), 'plain');
    expect(members('plain')).toEqual(['admin-made', 'u-3']);
  });
});
