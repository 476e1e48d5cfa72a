import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { KafkaSubscribe, type ConsumedMessage } from '@provisio/messaging';
import { AUDIT_TOPIC_PATTERN } from './audit-topics.js';
import { AUDIT_STORE, type AuditStore } from './audit.store.js';

@Controller()
export class AuditConsumer {
  constructor(@Inject(AUDIT_STORE) private readonly store: AuditStore) {}

  /** Every record of every platform topic, dead letters included; one row per Kafka record. */
  @KafkaSubscribe({ group: 'audit', topicPattern: AUDIT_TOPIC_PATTERN, mode: 'batch', topicRefreshMs: 10000 })
  async onRecords(@Payload() batch: ConsumedMessage<Buffer | null>[]): Promise<void> {
    await this.store.append(batch);
  }
}
