import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode, type TargetAccount } from '@provisio/connector-kit';
import { ScimTestServer, type ScimRequestHook } from '@provisio/testing';
import { rejectionOf } from '@provisio/testing/expect';
import { ScimConnector } from '../src/scim/scim.connector.js';
import { USER_SCHEMA, foreignUpdate as foreignPut, interleave as interleaveOn, scimTarget, type Json } from './scim-test-kit.js';

/**
 * User updates by PUT of the whole resource (put-only services, or after a 405 to PATCH) against
 * the real SCIM test server: another writer's change between our read and our PUT must not be
 * overwritten silently (ETag / If-Match, 412 → read again, apply the change again, bounded).
 */
describe('connector-scim user PUT under a concurrent foreign write', () => {
  let server: ScimTestServer;

  const connector = () => new ScimConnector(scimTarget(server, 'put-users', { profile: 'put-only' }));
  const userPath = (id: string) => `/scim/v2/Users/${id}`;
  const putsTo = (id: string) => server.requests.filter((q) => q.path === userPath(id) && q.method === 'PUT');
  const stored = (id: string) => server.store.users.get(id)!;
  const addUser = (id: string, more: Json = {}) => server.store.users.set(id, { id, schemas: [USER_SCHEMA], userName: `${id}.name`, externalId: `person-${id}`, active: true, meta: {}, ...more });
  const read = async (c: ScimConnector, id: string): Promise<TargetAccount> =>
    (await c.readAccount({ personId: `person-${id}`, accountName: `${id}.name`, accountRef: id, desired: { personId: `person-${id}`, target: 'put-users', version: 1, state: 'ACTIVE', accountName: `${id}.name`, attributes: {}, groups: [] } }))!;

  /** Another writer (an administrator, another tool) changes the user by GET + PUT, with If-Match when the server gives versions. */
  const foreignUpdate = (id: string, change: (user: Json) => void) =>
    foreignPut(server, `/Users/${id}`, (user) => {
      delete user['meta'];
      delete user['groups'];
      change(user);
      return user;
    });
  const interleave = (hook: ScimRequestHook) => interleaveOn(server, hook);

  beforeAll(async () => {
    server = await ScimTestServer.start();
  });

  afterEach(() => {
    server.beforeHandling = undefined;
    server.store.etags = false;
  });

  afterAll(async () => {
    await server?.close();
  });

  it("another writer's change between our read and our PUT: 412, read again, our change applied on top of theirs (update and disable)", async () => {
    server.store.etags = true;
    addUser('u1', { title: 'Engineer', displayName: 'Old Name' });
    const c = connector();
    const account = await read(c, 'u1');
    let foreign = 0;
    interleave(async (req) => {
      if (req.method !== 'PUT' || req.path !== userPath('u1') || foreign > 0) return;
      foreign++;
      // Just before the connector's PUT is handled, an administrator changes another attribute.
      await foreignUpdate('u1', (u) => (u['nickName'] = 'set-by-admin'));
    });
    const updated = await c.updateAccount(account, { attributes: { displayName: 'New Name' } });
    expect(foreign).toBe(1);
    expect(stored('u1')).toMatchObject({ displayName: 'New Name', nickName: 'set-by-admin', title: 'Engineer', externalId: 'person-u1', active: true });
    expect(updated.attributes).toMatchObject({ displayName: 'New Name' });
    // The administrator's PUT, the connector's first PUT refused (stale version), its second after reading again.
    expect(putsTo('u1').map((q) => q.status)).toEqual([200, 412, 200]);
    expect(putsTo('u1').every((q) => q.ifMatch?.startsWith('W/"'))).toBe(true);

    // A leaver's disable while an administrator changes the user (and re-activates it): disabled, their other change kept.
    let again = 0;
    interleave(async (req) => {
      if (req.method !== 'PUT' || req.path !== userPath('u1') || req.ifMatch === undefined || again > 0) return;
      again++;
      await foreignUpdate('u1', (u) => {
        u['active'] = true;
        u['title'] = 'Lead';
      });
    });
    await c.disableAccount(updated);
    expect(again).toBe(1);
    expect(stored('u1')).toMatchObject({ active: false, title: 'Lead', displayName: 'New Name', nickName: 'set-by-admin' });

    // The version of the last answer is kept: the next PUT from the cache goes through at once.
    server.beforeHandling = undefined;
    const before = putsTo('u1').length;
    await c.enableAccount(updated);
    expect(putsTo('u1').slice(before).map((q) => q.status)).toEqual([200]);
    expect(stored('u1')['active']).toBe(true);
  });

  it('a user that keeps changing under other writers: a bounded number of attempts, then a transient error; nothing of theirs lost', async () => {
    server.store.etags = true;
    addUser('u2', { title: 'Engineer' });
    const c = connector();
    const account = await read(c, 'u2');
    let foreign = 0;
    interleave(async (req) => {
      if (req.method !== 'PUT' || req.path !== userPath('u2') || req.ifMatch === undefined) return;
      foreign++;
      await foreignUpdate('u2', (u) => (u['nickName'] = `admin-${foreign}`));
    });
    const failure = await rejectionOf(c.updateAccount(account, { attributes: { title: 'Manager' } }), ConnectorError);
    expect(failure.code).toBe(ConnectorErrorCode.Unavailable);
    expect(failure.retriable).toBe(true);
    expect(failure.message).toMatch(/412/);
    expect(foreign).toBe(5);
    expect(stored('u2')).toMatchObject({ title: 'Engineer', nickName: 'admin-5' });
    // Once the others are done, the kit's retry of the command succeeds.
    server.beforeHandling = undefined;
    await c.updateAccount(account, { attributes: { title: 'Manager' } });
    expect(stored('u2')).toMatchObject({ title: 'Manager', nickName: 'admin-5' });
  });

  it("a user another writer gave to someone else meanwhile is not written (transient: the kit's retry reads and plans again)", async () => {
    server.store.etags = true;
    addUser('u3', { title: 'Engineer' });
    const c = connector();
    const account = await read(c, 'u3');
    let foreign = 0;
    interleave(async (req) => {
      if (req.method !== 'PUT' || req.path !== userPath('u3') || foreign > 0) return;
      foreign++;
      await foreignUpdate('u3', (u) => (u['externalId'] = 'person-somebody-else'));
    });
    await expect(c.disableAccount(account)).rejects.toMatchObject({ code: ConnectorErrorCode.Unavailable, message: expect.stringMatching(/externalId/) });
    expect(stored('u3')).toMatchObject({ active: true, externalId: 'person-somebody-else' });
    expect(putsTo('u3').map((q) => q.status)).toEqual([200, 412]);
  });

  it('without versions from the service, the PUT carries no If-Match (nothing to compare with)', async () => {
    addUser('u4');
    const c = connector();
    const account = await read(c, 'u4');
    await c.updateAccount(account, { attributes: { title: 'Engineer' } });
    expect(stored('u4')['title']).toBe('Engineer');
    expect(putsTo('u4').map((q) => [q.status, q.ifMatch])).toEqual([[200, undefined]]);
  });
});
