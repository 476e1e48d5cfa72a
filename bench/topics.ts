import { KafkaJsBroker } from '@provisio/messaging';
import { createLogger } from '@provisio/observability';
import { kafkaBrokers } from '@provisio/testing';

/**
 * Creates the bench's topics through the messaging port's ensureTopics, which waits out the
 * brief unknown-topic answers of a KRaft broker that just started or just created them.
 */
export async function createTopics(topics: { topic: string; partitions: number }[]): Promise<void> {
  const broker = new KafkaJsBroker({ brokers: kafkaBrokers(), clientId: 'bench-topics', logger: createLogger({ service: 'bench', level: 'warn' }) });
  try {
    await broker.ensureTopics(topics);
  } finally {
    await broker.close();
  }
}
