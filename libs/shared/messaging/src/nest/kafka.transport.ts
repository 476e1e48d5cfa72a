import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { isObservable, lastValueFrom } from 'rxjs';
import { createBatchListener } from '../consumer-runner.js';
import type { ErrorClass } from '../messaging-error.js';
import type { MessageBroker, RunningSubscription } from '../port.js';
import { SUBSCRIPTION_EXTRAS, type KafkaSubscriptionOptions } from './kafka-subscribe.decorator.js';

export interface KafkaTransportOptions {
  broker: MessageBroker;
  logger: Logger;
  classify?: (e: unknown) => ErrorClass;
}

/**
 * Custom Nest transport on the messaging port: one consumer group per @KafkaSubscribe handler,
 * eachBatch with manual commits, retries and dead letters (see consumer-runner.ts). Use instead
 * of Nest's built-in Kafka transport, which shares one consumer for all topics and stalls a
 * partition when a handler fails.
 */
export class KafkaTransport extends Server implements CustomTransportStrategy {
  private readonly running: RunningSubscription[] = [];

  constructor(private readonly options: KafkaTransportOptions) {
    super();
  }

  subscriptions(): KafkaSubscriptionOptions[] {
    return [...this.messageHandlers.values()]
      .map((h) => (h.extras as Record<string, unknown> | undefined)?.[SUBSCRIPTION_EXTRAS] as KafkaSubscriptionOptions | undefined)
      .filter((x): x is KafkaSubscriptionOptions => x !== undefined);
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      for (const handler of this.messageHandlers.values()) {
        const sub = (handler.extras as Record<string, unknown> | undefined)?.[SUBSCRIPTION_EXTRAS] as KafkaSubscriptionOptions | undefined;
        if (!sub) continue;
        const mode = sub.mode ?? 'record';
        const listener = createBatchListener(
          async (messages, ctx) => {
            const result: unknown = await handler(mode === 'batch' ? messages : messages[0], ctx);
            if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
          },
          {
            groupId: sub.group,
            mode,
            schema: sub.schema,
            broker: this.options.broker,
            logger: this.options.logger,
            retry: sub.retry,
            classify: this.options.classify,
          },
        );
        const running = await this.options.broker.subscribe(
          {
            groupId: sub.group,
            ...(sub.topics ? { topics: sub.topics } : {}),
            ...(sub.topicPattern ? { topicPattern: sub.topicPattern } : {}),
            fromBeginning: sub.fromBeginning ?? true,
            ...(sub.topicRefreshMs ? { topicRefreshMs: sub.topicRefreshMs } : {}),
            ...(sub.partitionsConcurrently ? { partitionsConcurrently: sub.partitionsConcurrently } : {}),
            ...(sub.maxBytesPerPartition ? { maxBytesPerPartition: sub.maxBytesPerPartition } : {}),
          },
          listener,
        );
        this.running.push(running);
        this.options.logger.info({ group: sub.group, topics: sub.topics, pattern: sub.topicPattern?.source }, 'consumer started');
      }
      callback();
    } catch (e) {
      callback(e);
    }
  }

  /** Stops consumers: in-flight batches finish, offsets are committed, the groups are left. */
  async close(): Promise<void> {
    const subs = this.running.splice(0);
    await Promise.all(subs.map((s) => s.stop()));
  }

  on(): never {
    throw new Error('KafkaTransport has no events to listen to');
  }

  unwrap<T>(): T {
    return this.options.broker as T;
  }
}
