import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, TargetRuntime, converge, type DesiredAccount } from '@provisio/connector-kit';
import { ScimTestServer, silentLogger } from '@provisio/testing';
import { expectNamesNone as namesNone, rejectionOf } from '@provisio/testing/expect';
import { ScimConnector } from '../src/scim/scim.connector.js';
import { USER_SCHEMA, scimTarget } from './scim-test-kit.js';

/**
 * Error texts of connector-scim through the kit's converge against the real SCIM test server
 * (SCIMMY): a service's error detail echoes the userName it refused ("userName … is already
 * taken"); what goes into results, dead letters and logs must not.
 */
describe('connector-scim error texts name no account', () => {
  let server: ScimTestServer;
  const connectors: ScimConnector[] = [];

  const runtimeFor = (id: string, extra: Record<string, unknown> = {}) => {
    const cfg = scimTarget(server, id, extra);
    const connector = new ScimConnector(cfg);
    connectors.push(connector);
    return new TargetRuntime(cfg, 'scim', connector, silentLogger(), connector.planOptions());
  };
  const desired = (target: string, personId: string, accountName: string, over: Partial<DesiredAccount> = {}): DesiredAccount => ({
    personId,
    target,
    version: 1,
    state: 'ACTIVE',
    accountName,
    attributes: { mail: `${accountName}@example.org` },
    groups: [],
    ...over,
  });
  const failure = (runtime: TargetRuntime, d: DesiredAccount, ref: string | null = null) => rejectionOf(converge(runtime, d, ref), ConnectorError);
  const addUser = (id: string, userName: string, externalId?: string) => server.store.users.set(id, { id, schemas: [USER_SCHEMA], userName, ...(externalId ? { externalId } : {}), active: true, meta: {} });

  beforeAll(async () => {
    server = await ScimTestServer.start();
  });

  afterAll(async () => {
    for (const c of connectors) await c.close();
    await server?.close();
  });

  for (const profile of ['generic', 'put-only'] as const) {
    it(`a mover's rename onto a taken userName (409 "userName … is already taken", ${profile === 'generic' ? 'PATCH' : 'PUT'}): neither name in the text`, async () => {
      const runtime = runtimeFor(`scim-${profile}`, { profile, adoptExisting: false });
      const old = `ada.byron.${profile}`;
      const taken = `ada.lovelace.${profile}`;
      const created = await converge(runtime, desired(`scim-${profile}`, `p-mover-${profile}`, old), null);
      // Taken by a user the read for this person does not find (no externalId: the look-up by name is not reached, the ref is).
      addUser(`other-${profile}`, taken);
      const e = await failure(runtime, desired(`scim-${profile}`, `p-mover-${profile}`, taken), created.accountRef);
      expect(e.code).toBe('TARGET_REJECTED');
      expect(e.message).toMatch(/answered 409/);
      namesNone(e.message, old, taken, `${old}@example.org`, `${taken}@example.org`);
    });
  }

  it("a user with the userName that nobody manages, adoption off: ACCOUNT_NOT_MANAGED without the name", async () => {
    const runtime = runtimeFor('scim-noadopt', { adoptExisting: false });
    addUser('grace', 'grace.hopper');
    const e = await failure(runtime, desired('scim-noadopt', 'p-grace', 'grace.hopper'));
    expect(e.code).toBe('ACCOUNT_NOT_MANAGED');
    namesNone(e.message, 'grace.hopper');
  });

  it('a joiner whose email is taken (409 on create, the read cannot explain it): permanent, without name or email', async () => {
    server.store.uniqueEmails = true;
    try {
      const runtime = runtimeFor('scim-email');
      server.store.users.set('holder', { id: 'holder', schemas: [USER_SCHEMA], userName: 'someone.else', externalId: 'p-someone', emails: [{ value: 'shared@example.org', type: 'work', primary: true }], active: true, meta: {} });
      const e = await failure(runtime, desired('scim-email', 'p-joan', 'joan.clarke', { attributes: { mail: 'shared@example.org' } }));
      expect(e.code).toBe('TARGET_ALREADY_EXISTS');
      namesNone(e.message, 'joan.clarke', 'shared@example.org');
    } finally {
      server.store.uniqueEmails = false;
    }
  });
});
