import { describe, expect, it } from '@jest/globals';
import type { MessageBroker, OutgoingMessage } from '@provisio/messaging';
import type { Database } from '@provisio/persistence';
import { ReplayErrorCode, ReplayService } from '../src/api/replay.service.js';
import type { PersonKeyStore } from '../src/store/person-keys.repository.js';
import type { RecordRow } from '../src/store/record.repository.js';

/** Replay's destination check, before anything is read or sent. */
describe('dead-letter replay destination', () => {
  const sent: OutgoingMessage[] = [];
  const broker = { send: async (m: OutgoingMessage[]) => void sent.push(...m) } as unknown as MessageBroker;
  const db = {
    transaction: async (fn: (tx: unknown) => Promise<unknown>) => fn({ sql: { query: async () => ({ rows: [{ n: '0' }] }) } }),
  } as unknown as Database;
  const actions: { type: string; subject: string | null; body: Record<string, unknown> }[] = [];
  const service = new ReplayService(db, 'audit', {} as PersonKeyStore, broker, { appendAction: async (a) => actions.push(a) + 99 });
  const row = (topic: string, deadLetterOf: string | null) =>
    ({ topic, dead_letter_of: deadLetterOf, person_id: 'p1', payload: Buffer.from('x'), key_id: null, record_key: 'p1', headers: { 'dlt-original-topic': deadLetterOf ?? '' }, kafka_partition: 0, kafka_offset: '1' }) as unknown as RecordRow;

  it('refuses a dead letter whose dlt-original-topic header names another topic than its own', async () => {
    await expect(service.replay(row('provisioning.commands.ldap.dlt', 'hr.lifecycle'), '7', { by: 'operator' })).rejects.toMatchObject({ code: ReplayErrorCode.WrongDestination });
    await expect(service.replay(row('hr.lifecycle', 'hr.lifecycle'), '8', { by: 'operator' })).rejects.toMatchObject({ code: ReplayErrorCode.NotADeadLetter });
    expect(sent).toEqual([]);
    expect(actions).toEqual([]);
  });

  it('replays to the dead-letter topic name minus .dlt', async () => {
    await expect(service.replay(row('provisioning.commands.ldap.dlt', 'provisioning.commands.ldap'), '9', { by: 'operator' })).resolves.toMatchObject({ topic: 'provisioning.commands.ldap', replays: 1 });
    expect(sent.map((m) => m.topic)).toEqual(['provisioning.commands.ldap']);
    // The replay is recorded as an audit action: who, which record, where to.
    expect(actions).toEqual([{ type: 'dead-letter-replayed', subject: 'p1', body: { by: 'operator', replayedSeq: '9', deadLetterTopic: 'provisioning.commands.ldap.dlt', topic: 'provisioning.commands.ldap', replays: 1 } }]);
  });
});
