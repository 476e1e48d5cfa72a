import { UseFilters, applyDecorators } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { SchemaName } from '@provisio/contracts';
import type { RetryPolicy } from '../consumer-runner.js';
import { PassThroughRpcFilter } from './pass-through-rpc.filter.js';

export const SUBSCRIPTION_EXTRAS = 'provisio.subscription';

export interface KafkaSubscriptionOptions {
  /** Consumer group; one consumer (and one group) per subscription. */
  group: string;
  topics?: string[];
  topicPattern?: RegExp;
  /** record (default): the handler gets one ConsumedMessage; batch: an array of a partition's batch. */
  mode?: 'record' | 'batch';
  /** Decode values with this Avro schema (any earlier writer version is resolved). */
  schema?: SchemaName;
  fromBeginning?: boolean;
  retry?: Partial<RetryPolicy>;
  topicRefreshMs?: number;
  partitionsConcurrently?: number;
  /** Fetch size per partition (bigger batches for high-volume consumers such as audit). */
  maxBytesPerPartition?: number;
}

/**
 * Declares a Kafka subscription on a Nest controller method. The handler receives
 * `ConsumedMessage` (or an array in batch mode) as payload and `ConsumeContext` as context.
 * Returning normally means done: the offset is committed after it.
 */
export function KafkaSubscribe(options: KafkaSubscriptionOptions): MethodDecorator {
  const what = options.topicPattern ? `/${options.topicPattern.source}/` : (options.topics ?? []).join(',');
  // The (metadata, extras) overload; the pattern string only has to be unique per handler.
  const eventPattern = EventPattern as (metadata: string, extras: Record<string, unknown>) => MethodDecorator;
  // The filter is per handler: a global one registered on the microservice comes too late (Nest
  // wires handlers when the transport is connected) and errors would lose their retriable flag.
  return applyDecorators(eventPattern(`${options.group}:${what}`, { [SUBSCRIPTION_EXTRAS]: options }), UseFilters(PassThroughRpcFilter));
}
