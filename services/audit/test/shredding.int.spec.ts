import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { avroCodec } from '@provisio/contracts';
import { AuditQueries } from '../src/api/audit-queries.js';
import { joinerRecords } from './records.js';
import { openStore, type Store } from './store-harness.js';

let offset = 1_000;
function recordsOf(personId: string) {
  const d = joinerRecords(personId);
  return {
    data: d,
    messages: [d.lifecycle, d.commandMessage].map((m, i) => ({
      topic: i === 0 ? 'hr.lifecycle' : 'provisioning.commands.ldap',
      partition: 0,
      offset: String(offset++),
      key: m.key,
      headers: m.headers,
      envelope: {},
      value: m.value,
      timestamp: Date.now(),
    })),
  };
}

/**
 * Crypto-shredding across replicas: two stores on one database stand for two audit replicas,
 * each with its own key cache. A shred on one must stop the other from decrypting at once, not
 * when its cache expires.
 */
describe('crypto-shredding across replicas', () => {
  let db: TestDatabase;
  let a: Store;
  let b: Store;

  beforeAll(async () => {
    db = await createTestDatabase('auditshred');
    a = await openStore(db.url);
    b = await openStore(db.url, { migrate: false });
  }, 60_000);

  afterAll(async () => {
    await a?.db.close();
    await b?.db.close();
    await db?.drop();
  });

  const timeline = async (s: Store, personId: string) => (await new AuditQueries(s.db, s.repo, s.keys).timeline(personId, { limit: 50 })).records;

  it('a shred on one replica makes the other stop decrypting on its next read, its cache notwithstanding', async () => {
    const personId = randomUUID();
    const { data, messages } = recordsOf(personId);
    expect(await a.repo.append(messages)).toBe(2);
    // Replica A has read (and cached) the person's key.
    const before = await timeline(a, personId);
    expect(before.find((r) => r.entityId === data.event.eventId)).toMatchObject({ piiShredded: false, payload: { attributes: { givenName: 'Ada', email: 'ada@example.com' } } });

    expect(await b.keys.shred(b.db.sql, personId, 'test')).toBe(1);

    const after = await timeline(a, personId);
    expect(after).toHaveLength(2);
    for (const r of after) expect(r.piiShredded).toBe(true);
    expect(after.find((r) => r.entityId === data.event.eventId)!.payload).toMatchObject({ eventId: data.event.eventId, attributes: { givenName: null, email: null, department: 'R&D' } });
  });

  it('after a shred, replica A seals new records of that person with a new key, not its cached destroyed one', async () => {
    const personId = randomUUID();
    const first = recordsOf(personId);
    await a.repo.append(first.messages);
    const keyBefore = (await db.query<{ key_id: string }>('SELECT DISTINCT key_id FROM audit.records WHERE person_id = $1', [personId])).map((r) => r.key_id);
    expect(keyBefore).toHaveLength(1);

    await b.keys.shred(b.db.sql, personId, 'test');
    const second = recordsOf(personId);
    await a.repo.append(second.messages);

    const keys = await db.query<{ key_id: string; shredded: boolean }>(
      'SELECT r.key_id, k.shredded_at IS NOT NULL AS shredded FROM audit.records r JOIN audit.person_keys k USING (key_id) WHERE r.person_id = $1 AND r.entity_id = $2',
      [personId, second.data.event.eventId],
    );
    expect(keys).toEqual([{ key_id: expect.not.stringMatching(keyBefore[0]!), shredded: false }]);
    const view = (await timeline(b, personId)).find((r) => r.entityId === second.data.event.eventId)!;
    expect(view).toMatchObject({ piiShredded: false, payload: { attributes: { givenName: 'Ada' } } });
    // And the chain still verifies, shredded ciphertexts included.
    expect((await a.chain.verify()).ok).toBe(true);
  });
  it('seals a failed result\'s error message and the dead-letter error header under the person\'s key: unreadable after shredding, the chain still verifies', async () => {
    const personId = randomUUID();
    const d = joinerRecords(personId);
    const failed = { ...d.result, resultId: randomUUID(), status: 'FAILED' as const, error: { code: 'LDAP_49', message: 'bind failed for cn=Ada Lovelace,ou=people', retriable: false } };
    const dlt = d.deadLetter('provisioning.commands.ldap');
    dlt.headers['dlt-error-message'] = 'entry uid=ada.lovelace@example.com violates objectClass';
    const messages = [
      { topic: 'provisioning.results', partition: 0, offset: String(offset++), key: personId, headers: d.resultMessage.headers, envelope: {}, value: avroCodec().encode('ProvisioningResult', failed), timestamp: Date.now() },
      { topic: 'provisioning.commands.ldap.dlt', partition: 0, offset: String(offset++), key: personId, headers: dlt.headers, envelope: {}, value: dlt.value, timestamp: Date.now() },
    ];
    expect(await a.repo.append(messages)).toBe(2);
    // Stored: neither text in the clear.
    const stored = await db.query<{ text: string }>('SELECT payload_json::text || headers::text AS text FROM audit.records WHERE person_id = $1', [personId]);
    for (const secret of ['Ada Lovelace', 'ada.lovelace@example.com']) expect(stored.map((r) => r.text).join()).not.toContain(secret);
    const before = await timeline(a, personId);
    expect(before.find((r) => r.topic === 'provisioning.results')).toMatchObject({ payload: { error: { code: 'LDAP_49', message: 'bind failed for cn=Ada Lovelace,ou=people' } }, piiShredded: false });
    expect(before.find((r) => r.topic === 'provisioning.commands.ldap.dlt')?.deadLetter).toMatchObject({ errorCode: 'LDAP_SCHEMA_VIOLATION', errorMessage: 'entry uid=ada.lovelace@example.com violates objectClass' });

    await a.keys.shred(a.db.sql, personId, 'test');
    const after = await timeline(a, personId);
    expect(after.find((r) => r.topic === 'provisioning.results')).toMatchObject({ payload: { error: { code: 'LDAP_49', message: null } }, piiShredded: true });
    expect(after.find((r) => r.topic === 'provisioning.commands.ldap.dlt')).toMatchObject({ piiShredded: true, deadLetter: { errorCode: 'LDAP_SCHEMA_VIOLATION', errorMessage: null } });
    expect((await a.chain.verify()).ok).toBe(true);
  });
});
