import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { EventTypes, Topics, type LifecycleEvent, type ProvisioningResult } from '@provisio/contracts';
import { Inbox, KafkaSubscribe, OutboxWriter, uuidv7, type ConsumeContext, type ConsumedMessage } from '@provisio/messaging';
import { Database } from '@provisio/persistence';
import { builtinPostgresRule, canonicalJson } from '@provisio/policy-domain';
import { TARGET_ACCOUNTS } from './tokens.js';
import type { TargetAccountRepository } from './target-account.repository.js';

const GROUP = 'policy';

@Controller()
export class LifecycleConsumer {
  constructor(
    private readonly db: Database,
    private readonly inbox: Inbox,
    private readonly outbox: OutboxWriter,
    @Inject(TARGET_ACCOUNTS) private readonly accounts: TargetAccountRepository,
  ) {}

  /** Lifecycle event → desired state per target → a command when the state changed. */
  @KafkaSubscribe({ group: GROUP, topics: [Topics.lifecycle], schema: 'LifecycleEvent' })
  async onLifecycle(@Payload() message: ConsumedMessage<LifecycleEvent>, @Ctx() _ctx: ConsumeContext): Promise<void> {
    const event = message.value;
    await this.db.transaction(async (tx) => {
      if (!(await this.inbox.claim(tx.sql, GROUP, event.eventId))) return;
      const desired = builtinPostgresRule({ personId: event.personId, kind: event.kind, attributes: event.attributes });
      const json = canonicalJson(desired);
      const current = await this.accounts.lock(tx.sql, event.personId, desired.target);
      if (current?.desired_json === json) return;
      const version = Number(current?.version ?? 0) + 1;
      await this.accounts.save(tx.sql, event.personId, desired.target, desired.targetKind, version, json);
      const commandId = uuidv7();
      await this.outbox.enqueue(tx.sql, [
        {
          id: commandId,
          topic: Topics.commands(desired.targetKind),
          key: event.personId,
          aggregateType: 'person-target',
          type: EventTypes.command,
          schema: 'ProvisioningCommand',
          value: {
            commandId,
            personId: event.personId,
            target: desired.target,
            targetKind: desired.targetKind,
            version,
            state: desired.state,
            accountName: desired.accountName,
            attributes: desired.attributes,
            groups: desired.groups,
            cause: { lifecycleEventId: event.eventId, lifecycleKind: event.kind, policyVersion: 0, reason: 'lifecycle' },
            hrEffectiveAt: event.effectiveAt,
            issuedAt: Date.now(),
          },
        },
      ]);
    });
  }

  /** What targets report back: the applied version and the last error per person x target. */
  @KafkaSubscribe({ group: `${GROUP}-results`, topics: [Topics.results], schema: 'ProvisioningResult' })
  async onResult(@Payload() message: ConsumedMessage<ProvisioningResult>): Promise<void> {
    const r = message.value;
    await this.db.transaction(async (tx) => {
      if (!(await this.inbox.claim(tx.sql, `${GROUP}-results`, r.resultId))) return;
      await this.accounts.recordResult(tx.sql, r.personId, r.target, r.version, r.status, r.error ? `${r.error.code}: ${r.error.message}` : null);
    });
  }
}
