import { EventTypes, Topics, avroCodec, type LifecycleEvent, type PolicyViolation, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';
import { JobScheduler } from '@provisio/scheduler';
import { createTestDatabase, mintToken, serviceTestEnv, testKafka, uniqueTopicPrefix, type TestDatabase } from '@provisio/testing';
import type { Consumer, Producer } from 'kafkajs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap } from '../src/bootstrap.js';

export type PolicyService = Awaited<ReturnType<typeof startPolicyService>>;

/**
 * The policy service on the real broker and PostgreSQL with a policy file in a temporary folder,
 * a reader of every command and violation topic, and helpers to send events and results and to
 * call the API. The background scheduler polls rarely: tests run timed work with `runDue(at)`.
 */
export async function startPolicyService(name: string, policyYaml: string, o: { pollMs?: number } = {}) {
  const db: TestDatabase = await createTestDatabase(name);
  const prefix = uniqueTopicPrefix();
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, policyYaml);
  const env = (path: string) =>
    serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { POLICY_PATH: path, POLICY_SCHEDULER_POLL_MS: String(o.pollMs ?? 600_000) } });
  const service = await bootstrap(env(policyPath));
  const token = await mintToken(['policy:read', 'policy:write']);
  const kafka = testKafka(`${name}-it`);
  const producer: Producer = kafka.producer();
  const consumer: Consumer = kafka.consumer({ groupId: `${prefix}reader`, maxWaitTimeInMs: 50 });
  await Promise.all([producer.connect(), consumer.connect()]);
  const commands: ProvisioningCommand[] = [];
  const violations: PolicyViolation[] = [];
  await consumer.subscribe({
    topics: [...['postgres', 'ldap', 'scim'].map((k) => `${prefix}${Topics.commands(k)}`), `${prefix}${Topics.policyViolations}`],
    fromBeginning: true,
  });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      if (topic.endsWith(Topics.policyViolations)) violations.push(avroCodec().decode('PolicyViolation', message.value!));
      else commands.push(avroCodec().decode('ProvisioningCommand', message.value!));
    },
  });
  const scheduler = service.app.get(JobScheduler);
  return {
    db,
    prefix,
    service,
    policyPath,
    commands,
    violations,
    scheduler,
    env,
    send: async (e: LifecycleEvent) =>
      producer.send({
        topic: `${prefix}${Topics.lifecycle}`,
        messages: [{ key: e.personId, value: avroCodec().encode('LifecycleEvent', e), headers: { ce_id: e.eventId, ce_type: EventTypes.lifecycle(e.kind) } }],
      }),
    sendResult: async (r: ProvisioningResult) =>
      producer.send({
        topic: `${prefix}${Topics.results}`,
        messages: [{ key: r.personId, value: avroCodec().encode('ProvisioningResult', r), headers: { ce_id: r.resultId, ce_type: EventTypes.result } }],
      }),
    commandsFor: (personId: string, target?: string) => commands.filter((c) => c.personId === personId && (!target || c.target === target)),
    api: async (method: string, path: string, body?: unknown, type = 'application/json') => {
      const res = await fetch(`${service.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    /** The person's last applied lifecycle event time (a same-key marker tells the partition drained). */
    appliedUpTo: async (personId: string) =>
      (await db.query<{ t: Date | null }>(`SELECT last_recorded_at AS t FROM policy.persons WHERE person_id = $1`, [personId]))[0]?.t?.getTime() ?? null,
    targetRows: (personId: string) =>
      db.query<{ target: string; version: number; state: string; applied_version: number | null; last_status: string | null; last_error: string | null }>(
        `SELECT target, version::int AS version, desired->>'state' AS state, applied_version::int AS applied_version, last_status, last_error
         FROM policy.target_accounts WHERE person_id = $1 ORDER BY target`,
        [personId],
      ),
    pendingJob: async (personId: string) =>
      (await db.query<{ due_at: Date; attempts: number; status: string }>(`SELECT due_at, attempts, status FROM policy.scheduled_jobs WHERE job_key = $1 AND status = 'pending'`, [
        personId,
      ]))[0],
    close: async () => {
      await Promise.all([producer.disconnect(), consumer.disconnect()]);
      await service.close();
      await db.drop();
    },
  };
}
