/**
 * The messaging port. Services and the consumer runner depend on this, never on kafkajs, so
 * another client can replace it (see kafka/ for the kafkajs driver, memory/ for unit tests).
 */
export type Headers = Record<string, string>;

export interface OutgoingMessage {
  topic: string;
  key: string | null;
  value: Buffer | null;
  headers: Headers;
}

export interface InboundRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  /** Broker or producer timestamp, epoch milliseconds. */
  timestamp: number;
}

export interface PartitionBatch {
  topic: string;
  partition: number;
  records: InboundRecord[];
  /** Records behind the end of this batch when it was fetched. */
  lag: number;
}

export interface BatchControls {
  /** Keeps group membership alive during long work; cheap to call often. */
  heartbeat(): Promise<void>;
  /** False once the partition was revoked or the consumer is stopping: stop processing the batch. */
  isActive(): boolean;
  /** Commits everything up to and including `offset` for the batch's partition. */
  commit(offset: string): Promise<void>;
}

export interface SubscriptionSpec {
  groupId: string;
  topics?: string[];
  /** Subscribe by pattern; topics created later are picked up (see topicRefreshMs). */
  topicPattern?: RegExp;
  fromBeginning?: boolean;
  /** How often pattern subscriptions look for new topics. */
  topicRefreshMs?: number;
  /** Partitions of the assignment processed concurrently (order is per partition anyway). */
  partitionsConcurrently?: number;
  /** Most bytes fetched per partition and request (the driver's default otherwise, 1 MiB for kafkajs). */
  maxBytesPerPartition?: number;
  /** Consumer group session timeout; the broker driver's default (KAFKA_SESSION_TIMEOUT_MS) otherwise. */
  sessionTimeoutMs?: number;
}

export type BatchListener = (batch: PartitionBatch, controls: BatchControls) => Promise<void>;

export interface RunningSubscription {
  readonly groupId: string;
  stop(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions?: number;
  replicationFactor?: number;
  config?: Record<string, string>;
}

export interface MessageBroker {
  /** Idempotent, acks=all; messages to one partition keep their order. */
  send(messages: OutgoingMessage[]): Promise<void>;
  subscribe(spec: SubscriptionSpec, listener: BatchListener): Promise<RunningSubscription>;
  /** Creates missing topics; existing ones are left as they are. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** Throws when the cluster does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
