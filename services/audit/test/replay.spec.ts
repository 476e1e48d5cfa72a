import { describe, expect, it } from '@jest/globals';
import type { MessageBroker, OutgoingMessage } from '@provisio/messaging';
import type { Database } from '@provisio/persistence';
import { FailuresController } from '../src/api/failures.controller.js';
import type { AuditQueries } from '../src/api/audit-queries.js';
import { ReplayUnavailable, replayConnection } from '../src/api/replay-producer.js';
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

describe('dead-letter replay principal', () => {
  it('uses its own SASL credentials when given, the shared client without SASL, and nothing otherwise', () => {
    expect(replayConnection({ KAFKA_SASL_MECHANISM: undefined, KAFKA_REPLAY_SASL_USERNAME: undefined, KAFKA_REPLAY_SASL_PASSWORD: undefined })).toEqual({ kind: 'shared' });
    expect(replayConnection({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_REPLAY_SASL_USERNAME: 'provisio-audit-replay', KAFKA_REPLAY_SASL_PASSWORD: 'pw' })).toEqual({ kind: 'own', username: 'provisio-audit-replay', password: 'pw' });
    const none = replayConnection({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_REPLAY_SASL_USERNAME: undefined, KAFKA_REPLAY_SASL_PASSWORD: undefined });
    expect(none).toEqual({ kind: 'unavailable', reason: expect.stringContaining('KAFKA_REPLAY_SASL_USERNAME and KAFKA_REPLAY_SASL_PASSWORD') });
  });

  it('answers 503 naming the missing settings, before reading, recording or sending anything, when no replay principal is configured', async () => {
    const sent: OutgoingMessage[] = [];
    let touchedDb = false;
    const db = { transaction: async () => ((touchedDb = true), undefined) } as unknown as Database;
    const reason = (replayConnection({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_REPLAY_SASL_USERNAME: undefined, KAFKA_REPLAY_SASL_PASSWORD: undefined }) as { reason: string }).reason;
    const service = new ReplayService(db, 'audit', {} as PersonKeyStore, new ReplayUnavailable(reason), { appendAction: async () => 1 });
    let read = false;
    const queries = { rawRecord: async () => ((read = true), null) } as unknown as AuditQueries;
    const controller = new FailuresController(queries, service);
    const e = await controller.replay('5', {}, { subject: 'operator' } as never).then(
      () => undefined,
      (x: unknown) => x as { getStatus(): number; message: string },
    );
    expect(e?.getStatus()).toBe(503);
    expect(e?.message).toMatch(/KAFKA_REPLAY_SASL_USERNAME and KAFKA_REPLAY_SASL_PASSWORD/);
    await expect(service.replay({ topic: 'hr.lifecycle.dlt' } as RecordRow, '5', { by: 'x' })).rejects.toMatchObject({ code: ReplayErrorCode.Unavailable });
    expect({ sent, touchedDb }).toEqual({ sent: [], touchedDb: false });
    expect(read).toBe(true);
  });
});
