import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { EventTypes, avroCodec, type PolicyViolation } from '@provisio/contracts';
import { InMemoryBroker } from '@provisio/messaging';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import { FeedPublisher } from '../src/siem/feed-publisher.js';
import { ocsfValidators } from './ocsf-fixtures.js';
import { joinerRecords } from './records.js';
import { logger, openStore, type Store } from './store-harness.js';

/**
 * What reaches the SIEM feed, from the store: connector results (IAM classes) and policy
 * violations (Compliance Finding), each valid against its OCSF class schema; lifecycle events and
 * commands are not emitted.
 */
describe('SIEM feed from the store', () => {
  let db: TestDatabase;
  let store: Store;
  const broker = new InMemoryBroker();
  const validators = ocsfValidators();

  beforeAll(async () => {
    db = await createTestDatabase('auditsiem');
    store = await openStore(db.url);
  }, 60_000);

  afterAll(async () => {
    await store?.db.close();
    await db?.drop();
  });

  it('emits results as IAM events and SoD violations as Compliance Findings, nothing for lifecycle events or commands', async () => {
    const personId = randomUUID();
    const d = joinerRecords(personId);
    const violation: PolicyViolation = {
      violationId: randomUUID(), personId, ruleId: 'sod-payments', policyVersion: 3, mode: 'FLAG', status: 'FLAGGED',
      conflicting: ['role:payment-approver', 'role:payment-creator'], dropped: [], exceptionId: null, detectedAt: Date.now(),
    };
    const violationHeaders = { ...d.lifecycle.headers, ce_id: violation.violationId, ce_type: EventTypes.policyViolation };
    const messages = [
      { topic: 'hr.lifecycle', m: d.lifecycle },
      { topic: 'provisioning.commands.ldap', m: d.commandMessage },
      { topic: 'policy.violations', m: { key: personId, value: avroCodec().encode('PolicyViolation', violation), headers: violationHeaders } },
      { topic: 'provisioning.results', m: d.resultMessage },
    ].map(({ topic, m }, i) => ({ topic, partition: 0, offset: String(i), key: m.key, headers: m.headers, envelope: {}, value: m.value, timestamp: Date.now() }));
    expect(await store.repo.append(messages)).toBe(4);

    const feed = new FeedPublisher(store.db, store.repo, store.chain, store.keys, broker, { formats: ['ocsf', 'cef'], privilegeTargetKinds: new Set(), productVersion: 'test' }, logger);
    await feed.publishOnce();
    const events = broker.records('audit.siem').map((r) => JSON.parse(r.value!.toString('utf8')) as { class_uid: number; activity_name: string; finding_info?: { uid: string } });
    // The result's CREATE and ADD_MEMBERSHIP, and the finding; in chain order (the violation was recorded first).
    expect(events.map((e) => [e.class_uid, e.activity_name])).toEqual([[2003, 'Create'], [3001, 'Create'], [3006, 'Add User']]);
    for (const e of events) {
      const validate = validators[e.class_uid]!;
      expect({ valid: validate(e), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
    }
    const finding = broker.records('audit.siem')[0]!;
    expect(finding.key?.toString('utf8')).toBe(personId);
    expect(finding.headers).toMatchObject({ ce_type: 'dev.provisio.audit.siem.ocsf', ce_subject: personId, traceparent: d.lifecycle.headers.traceparent });
    expect(broker.records('audit.siem.cef')).toHaveLength(3);
    expect(broker.records('audit.siem.cef')[0]!.value!.toString('utf8')).toMatch(/^CEF:0\|Provisio\|Provisio\|test\|200301\|/);
  });
});
