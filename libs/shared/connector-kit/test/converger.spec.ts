import { describe, expect, it } from '@jest/globals';
import { createLogger } from '@provisio/observability';
import { Writable } from 'node:stream';
import { z } from 'zod';
import {
  ConnectorError,
  ConnectorErrorCode,
  TargetRuntime,
  commonTargetShape,
  converge,
  partialOutcome,
  type DesiredAccount,
  type TargetAccount,
  type TargetConnector,
} from '../src/index.js';

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const config = z.object(commonTargetShape).parse({ id: 't1', breaker: { consecutiveFailures: 1 } });
const desired = (over: Partial<DesiredAccount> = {}): DesiredAccount => ({
  personId: 'p1',
  target: 't1',
  version: 1,
  state: 'ACTIVE',
  accountName: 'ada',
  attributes: { mail: 'a@x' },
  groups: [],
  ...over,
});
const account = (over: Partial<TargetAccount> = {}): TargetAccount => ({
  ref: 'r1',
  name: 'ada',
  owner: 'p1',
  enabled: true,
  attributes: { mail: 'a@x' },
  groups: [],
  ...over,
});
const exists = () => new ConnectorError(ConnectorErrorCode.AlreadyExists, 'add: Entry Already Exists');

/** A connector whose every method is a recorded jest-free stub; `reads` are answered in turn (the last one repeats). */
function fake(reads: (TargetAccount | null)[], over: Partial<TargetConnector> = {}) {
  const calls: string[] = [];
  const connector: TargetConnector = {
    ping: async () => undefined,
    readAccount: async () => {
      calls.push('read');
      return reads.length > 1 ? reads.shift()! : reads[0]!;
    },
    createAccount: async () => {
      calls.push('create');
      return account();
    },
    updateAccount: async (a, p) => {
      calls.push(`update:${Object.keys(p).sort().join(',')}`);
      return { ...a, ...(p.name ? { name: p.name } : {}), attributes: { ...a.attributes, ...p.attributes } };
    },
    enableAccount: async () => void calls.push('enable'),
    disableAccount: async () => void calls.push('disable'),
    deleteAccount: async () => void calls.push('delete'),
    listAccounts: async () => ({ items: [], next: null }),
    addGroupMembership: async (_a, g) => void calls.push(`add:${g}`),
    removeGroupMembership: async (_a, g) => void calls.push(`remove:${g}`),
    listGroups: async () => ({ items: [], next: null }),
    close: async () => undefined,
    ...over,
  };
  return { calls, runtime: new TargetRuntime(config, 'test', connector, silent) };
}

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    return e as ConnectorError;
  }
  throw new Error('expected a failure');
}

describe('converge: already exists', () => {
  it("a real race: the re-read finds this person's account created meanwhile, and convergence goes on from it", async () => {
    const { calls, runtime } = fake([null, account({ attributes: { mail: 'old@x' } })], { createAccount: async () => Promise.reject(exists()) });
    const out = await converge(runtime, desired(), null);
    expect(out).toEqual({ status: 'APPLIED', operations: [{ type: 'UPDATE', detail: 'mail' }], accountRef: 'r1' });
    expect(calls).toEqual(['read', 'read', 'update:attributes']);
  });

  it('a collision the read cannot explain: permanent ALREADY_EXISTS naming the conflict; the target stays healthy', async () => {
    const { runtime } = fake([null], { createAccount: async () => Promise.reject(exists()) });
    const err = await failure(converge(runtime, desired(), null));
    expect(err).toMatchObject({ code: 'TARGET_ALREADY_EXISTS', retriable: false, countsAgainstTarget: false });
    expect(err.message).toMatch(/^creating the account of person p1 on target t1 failed: the name is taken .* add: Entry Already Exists$/);
    expect(runtime.breaker.state).toBe('closed');
  });

  it("a rename onto a taken name fails permanently; another person's account found on the re-read is refused as not managed", async () => {
    const renamed = fake([account({ name: 'old' })], { updateAccount: async () => Promise.reject(exists()) });
    const err = await failure(converge(renamed.runtime, desired(), 'r1'));
    expect(err).toMatchObject({ code: 'TARGET_ALREADY_EXISTS', retriable: false });
    expect(err.message).toMatch(/^renaming the account of person p1/);
    expect(partialOutcome(err)).toEqual({ operations: [], accountRef: 'r1' });

    const theirs = fake([null, account({ owner: 'p2', ref: 'r2' })], { createAccount: async () => Promise.reject(exists()) });
    const e2 = await failure(converge(theirs.runtime, desired(), null));
    expect(e2.code).toBe('ACCOUNT_NOT_MANAGED');
    // Never remembered as this person's account.
    expect(partialOutcome(e2)).toBeUndefined();
  });
});

describe('converge: leavers and partial failures', () => {
  it('disables a leaver and removes memberships although the attribute update is refused; the failure is still thrown with what was done', async () => {
    const refused = new ConnectorError(ConnectorErrorCode.Rejected, 'constraint violation');
    let updates = 0;
    const { calls, runtime } = fake([account({ groups: ['devs'] })], {
      updateAccount: async () => {
        updates++;
        throw refused;
      },
    });
    const err = await failure(converge(runtime, desired({ state: 'DISABLED', attributes: { mail: 'new@x' } }), 'r1'));
    expect(err).toBe(refused);
    expect(calls).toEqual(['read', 'remove:devs', 'disable']);
    expect(updates).toBe(1);
    expect(partialOutcome(err)).toEqual({
      operations: [
        { type: 'REMOVE_MEMBERSHIP', detail: 'devs' },
        { type: 'DISABLE', detail: null },
      ],
      accountRef: 'r1',
    });
  });

  it('a refused membership removal does not keep the account enabled either', async () => {
    const refused = new ConnectorError(ConnectorErrorCode.Rejected, 'no');
    const { calls, runtime } = fake([account({ groups: ['devs'] })], { removeGroupMembership: async () => Promise.reject(refused) });
    const err = await failure(converge(runtime, desired({ state: 'DISABLED', attributes: { mail: 'new@x' } }), 'r1'));
    expect(err).toBe(refused);
    // A failed step leaves the account unknown: read again before the rest.
    expect(calls).toEqual(['read', 'disable', 'read', 'update:attributes']);
  });

  it('a failure after a create carries the create and the new ref', async () => {
    const { runtime } = fake([null], { addGroupMembership: async () => Promise.reject(new ConnectorError(ConnectorErrorCode.GroupNotFound, 'no such group')) });
    const err = await failure(converge(runtime, desired({ groups: ['nope'] }), null));
    expect(err.code).toBe('GROUP_NOT_FOUND');
    expect(partialOutcome(err)).toEqual({ operations: [{ type: 'CREATE', detail: null }], accountRef: 'r1' });
  });
});

describe('converge: error texts name no personal values', () => {
  const person = desired({ accountName: 'ada.lovelace', attributes: { mail: 'ada@example.org', displayName: 'Ada Lovelace' } });
  const personal = ['ada.lovelace', 'ada@example.org', 'Ada Lovelace', 'old.name', 'uid=old.name,ou=people,dc=x'];
  const namesNone = (message: string) => {
    for (const v of personal) expect(message.toLowerCase()).not.toContain(v.toLowerCase());
  };

  it("a conflict on create whose target text echoes the name, DN and email: permanent, the person's values redacted, the rest kept", async () => {
    const echo = new ConnectorError(ConnectorErrorCode.AlreadyExists, 'add uid=ada.lovelace,ou=people,dc=x: entry already exists (uid ADA.LOVELACE, mail ada@example.org, cn "Ada Lovelace")');
    const { runtime } = fake([null], { createAccount: async () => Promise.reject(echo) });
    const err = await failure(converge(runtime, person, null));
    expect(err).toMatchObject({ code: 'TARGET_ALREADY_EXISTS', retriable: false });
    namesNone(err.message);
    expect(err.message).toMatch(/^creating the account of person p1 on target t1 failed: .* entry already exists \(uid \[redacted\], mail \[redacted\], cn "\[redacted\]"\)$/);
  });

  it('a rename: neither the old name (and DN) nor the new one appears; the partial outcome stays attached', async () => {
    const current = account({ name: 'old.name', location: 'uid=old.name,ou=people,dc=x', attributes: { mail: 'ada@example.org', displayName: 'Ada Lovelace' } });
    const refused = new ConnectorError(ConnectorErrorCode.Rejected, 'modifyDN uid=old.name,ou=people,dc=x -> ada.lovelace refused: old.name is locked');
    const { runtime } = fake([current], { updateAccount: async () => Promise.reject(refused) });
    const err = await failure(converge(runtime, person, 'r1'));
    expect(err.code).toBe('TARGET_REJECTED');
    namesNone(err.message);
    expect(err.message).toBe('modifyDN [redacted] -> [redacted] refused: [redacted] is locked');
    expect(partialOutcome(err)).toEqual({ operations: [], accountRef: 'r1' });
  });

  it('an unowned account with the name, a missing group, an unclassified error: no name in the text', async () => {
    const unowned = fake([account({ owner: null, name: 'ada.lovelace' })]);
    const notManaged = await failure(converge(unowned.runtime, person, null));
    expect(notManaged.code).toBe('ACCOUNT_NOT_MANAGED');
    namesNone(notManaged.message);
    expect(notManaged.message).toMatch(/ref r1/);

    const missing = fake([null], { addGroupMembership: async () => Promise.reject(new ConnectorError(ConnectorErrorCode.GroupNotFound, 'group ops not found for member ada.lovelace')) });
    const e2 = await failure(converge(missing.runtime, { ...person, groups: ['ops'] }, null));
    expect(e2.code).toBe('GROUP_NOT_FOUND');
    expect(e2.message).toBe('group ops not found for member [redacted]');
    expect(partialOutcome(e2)).toEqual({ operations: [{ type: 'CREATE', detail: null }], accountRef: 'r1' });

    const bug = fake([account({ name: 'ada.lovelace', attributes: { mail: 'old@example.org' } })], { updateAccount: async () => Promise.reject(new TypeError('cannot read mail of ada.lovelace')) });
    const e3 = await failure(converge(bug.runtime, person, 'r1'));
    expect(e3.code).toBe('CONNECTOR_UNCLASSIFIED');
    expect(e3.message).toBe('cannot read mail of [redacted]');
  });
});
