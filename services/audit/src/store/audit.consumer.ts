import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { KafkaSubscribe, MessagingError, MessagingErrorCode, type ConsumedMessage } from '@provisio/messaging';
import { AUDIT_TOPIC_PATTERN } from './audit-topics.js';
import { RECORD_REPOSITORY, type RecordRepository } from './record.repository.js';

@Controller()
export class AuditConsumer {
  constructor(@Inject(RECORD_REPOSITORY) private readonly records: RecordRepository) {}

  /**
   * Every record of every platform topic, dead letters included; one chain position per Kafka
   * record. Offsets are committed after the batch's transaction committed. Audit never
   * dead-letters: whatever goes wrong is retried (the partition waits) rather than a record lost.
   */
  // Big fetches and several partitions at once: their batches are appended together (group commit).
  @KafkaSubscribe({ group: 'audit', topicPattern: AUDIT_TOPIC_PATTERN, mode: 'batch', topicRefreshMs: 10000, partitionsConcurrently: 8, maxBytesPerPartition: 4 * 1024 * 1024 })
  async onRecords(@Payload() batch: ConsumedMessage<Buffer | null>[]): Promise<void> {
    try {
      await this.records.append(batch);
    } catch (e) {
      throw new MessagingError(MessagingErrorCode.HandlerFailed, `audit append failed: ${(e as Error).message}`, true, { cause: e });
    }
  }
}
