import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Topics, type LifecycleEvent, type ProvisioningResult } from '@provisio/contracts';
import { Inbox, KafkaSubscribe, type ConsumedMessage } from '@provisio/messaging';
import { Database } from '@provisio/persistence';
import { LiveWork } from './live-work.js';
import { PolicyEngine, type WorkItem } from './policy-engine.js';
import { PERSON_STATE } from './tokens.js';
import type { PersonStateRepository } from './person-state.repository.js';

const GROUP = 'policy';
const CHUNK = 500;

/**
 * Lifecycle events → desired state per target → commands where it changed. A partition's batch
 * is handled in chunks, each one transaction: inbox (duplicates change nothing), person locks,
 * evaluation, state and outbox together. Per-person order is partition order.
 */
@Controller()
export class LifecycleConsumer {
  constructor(
    private readonly db: Database,
    private readonly inbox: Inbox,
    private readonly engine: PolicyEngine,
    private readonly live: LiveWork,
    @Inject(PERSON_STATE) private readonly persons: PersonStateRepository,
  ) {}

  @KafkaSubscribe({ group: GROUP, topics: [Topics.lifecycle], schema: 'LifecycleEvent', mode: 'batch' })
  async onLifecycle(@Payload() messages: ConsumedMessage<LifecycleEvent>[]): Promise<void> {
    await this.live.run(async () => {
      for (let i = 0; i < messages.length; i += CHUNK) {
        const chunk = messages.slice(i, i + CHUNK);
        await this.db.transaction(async (tx) => {
          const fresh = await this.inbox.claimMany(
            tx.sql,
            GROUP,
            chunk.map((m) => m.value.eventId),
          );
          const items: WorkItem[] = chunk
            .filter((m) => fresh.has(m.value.eventId))
            .map(({ value: e, headers }) => ({
              personId: e.personId,
              event: e,
              reason: 'lifecycle',
              hrEffectiveAt: e.stage === 'PRE_HIRE' ? null : e.effectiveAt,
              traceHeaders: headers,
            }));
          await this.engine.process(tx.sql, items);
        });
      }
    });
  }

  /** What targets report back: the applied version and the last error per person × target. */
  @KafkaSubscribe({ group: `${GROUP}-results`, topics: [Topics.results], schema: 'ProvisioningResult', mode: 'batch' })
  async onResults(@Payload() messages: ConsumedMessage<ProvisioningResult>[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      const fresh = await this.inbox.claimMany(
        tx.sql,
        `${GROUP}-results`,
        messages.map((m) => m.value.resultId),
      );
      // The last result per person × target in partition order wins.
      const latest = new Map<string, ProvisioningResult>();
      for (const m of messages) if (fresh.has(m.value.resultId)) latest.set(`${m.value.personId}\u0000${m.value.target}`, m.value);
      await this.persons.recordResults(
        tx.sql,
        [...latest.values()].map((r) => ({
          personId: r.personId,
          target: r.target,
          version: r.version,
          status: r.status,
          error: r.error ? `${r.error.code}: ${r.error.message}` : null,
          at: r.appliedAt,
        })),
      );
    });
  }
}
