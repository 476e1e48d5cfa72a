import { counter } from '@provisio/observability';
import { Kafka, logLevel, type Admin, type Consumer, type IHeaders, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { BatchListener, Headers, MessageBroker, OutgoingMessage, RunningSubscription, SubscriptionSpec, TopicSpec } from '../port.js';
import { toKafkaJsConfig, type KafkaConnectionOptions } from './kafka-options.js';

export interface KafkaJsBrokerOptions extends KafkaConnectionOptions {
  logger: Logger;
  defaultPartitions?: number;
  defaultReplicationFactor?: number;
  /**
   * Consumer group session timeout of every subscription that names none (KAFKA_SESSION_TIMEOUT_MS,
   * default 30000): a consumer without a heartbeat for this long loses its partitions.
   */
  sessionTimeoutMs?: number | undefined;
}

/** Default consumer group session timeout, milliseconds. */
export const DEFAULT_SESSION_TIMEOUT_MS = 30000;

/**
 * Joins of a consumer group by this process's consumers: one per subscription at start; every
 * further one is a rebalance this consumer went through (a member came or went, or this one was
 * removed for missing heartbeats and joined again).
 */
const groupJoins = counter('provisio_consumer_group_joins_total', 'Times a consumer of this process joined its consumer group (each join after the first is a rebalance)', ['group']);
const consumerRestarts = counter('provisio_consumer_restarts_total', 'Consumers started again after kafkajs stopped them for good (a non-retriable error, e.g. the member was removed from its group)', ['group']);

function toHeaders(h: IHeaders | undefined): Headers {
  const out: Headers = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

function kafkaLogger(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const fields = { lib: 'kafkajs', broker: extra['broker'], error: extra['error'] };
      // kafkajs logs every retried request failure (coordinator loading, rebalances) at ERROR;
      // failures that matter reach our code as exceptions and are logged there.
      if (level === logLevel.ERROR || level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.debug(fields, message);
    };
}

/** Bytes (keys, values, headers) of one produce request at most, unless one message alone is larger. */
export const SEND_CHUNK_BYTES = 512 * 1024;

function sizeOf(m: OutgoingMessage): number {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0) + 64;
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + String(v).length + 8;
  return n;
}

/** Messages in order, cut into runs of at most `max` bytes (a larger message is a run of its own). */
export function chunksOf(messages: OutgoingMessage[], max: number): OutgoingMessage[][] {
  const out: OutgoingMessage[][] = [];
  let run: OutgoingMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const n = sizeOf(m);
    if (run.length > 0 && bytes + n > max) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(m);
    bytes += n;
  }
  if (run.length > 0) out.push(run);
  return out;
}

/** The kafkajs driver of the messaging port. */
export class KafkaJsBroker implements MessageBroker {
  private readonly kafka: Kafka;
  private producer: Producer | undefined;
  private producerConnecting: Promise<Producer> | undefined;
  private admin: Admin | undefined;
  private readonly subscriptions = new Set<KafkaSubscription>();

  constructor(private readonly options: KafkaJsBrokerOptions) {
    process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
    this.kafka = new Kafka({ ...toKafkaJsConfig(options), logLevel: logLevel.WARN, logCreator: kafkaLogger(options.logger) });
  }

  async send(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.getProducer();
    try {
      // One request per chunk, in order: each partition's record batch stays below the broker's
      // message.max.bytes (1 MiB by default) whatever the relay's batch holds.
      for (const chunk of chunksOf(messages, SEND_CHUNK_BYTES)) {
        const byTopic = new Map<string, OutgoingMessage[]>();
        for (const m of chunk) {
          const list = byTopic.get(m.topic) ?? [];
          list.push(m);
          byTopic.set(m.topic, list);
        }
        await producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, list]) => ({
            topic,
            messages: list.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
          })),
        });
      }
    } catch (e) {
      // kafkajs retries what can be retried itself; a send that still fails may have been appended
      // on some partitions while the producer's sequence numbers were not advanced, and every
      // later send of this idempotent session would fail as out of order. Start a new session:
      // the caller's retry then publishes again (at least once; consumers deduplicate on ce_id).
      if (this.producer === producer) {
        this.producer = undefined;
        this.producerConnecting = undefined;
        await producer.disconnect().catch(() => undefined);
      }
      throw e;
    }
  }

  async subscribe(spec: SubscriptionSpec, listener: BatchListener): Promise<RunningSubscription> {
    const sessionTimeoutMs = spec.sessionTimeoutMs ?? this.options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const sub = new KafkaSubscription(this.kafka, { ...spec, sessionTimeoutMs }, listener, this.options.logger, () => this.getAdmin());
    await sub.start();
    this.subscriptions.add(sub);
    return {
      groupId: spec.groupId,
      stop: async () => {
        this.subscriptions.delete(sub);
        await sub.stop();
      },
    };
  }

  /**
   * Creates missing topics and waits until every partition of every requested topic has a
   * leader. Several services (or replicas) may create the same topics at the same moment: a topic
   * another client just created answers UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE for a
   * short while on KRaft, and kafkajs's own leader wait gives up on the former, so this retries.
   */
  async ensureTopics(topics: TopicSpec[], timeoutMs = 60_000): Promise<void> {
    if (topics.length === 0) return;
    const admin = await this.getAdmin();
    const names = [...new Set(topics.map((t) => t.topic))];
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t.topic));
        if (missing.length > 0) {
          await admin.createTopics({
            waitForLeaders: false,
            topics: missing.map((t) => ({
              topic: t.topic,
              numPartitions: t.partitions ?? this.options.defaultPartitions ?? 3,
              replicationFactor: t.replicationFactor ?? this.options.defaultReplicationFactor ?? -1,
              configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
            })),
          });
        }
        const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names });
        if (metadata.length === names.length && metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
        lastError = new Error('partitions without a leader yet');
      } catch (e) {
        const type = (e as { type?: string }).type;
        if (!(e as { retriable?: boolean }).retriable && type !== 'TOPIC_ALREADY_EXISTS' && type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw e;
        lastError = e;
      }
      if (Date.now() > deadline) throw new Error(`topics not ready after ${timeoutMs} ms (${names.join(', ')}): ${(lastError as Error)?.message ?? 'unknown'}`);
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
    }
  }

  async ping(): Promise<void> {
    const admin = await this.getAdmin();
    await admin.describeCluster();
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.subscriptions.clear();
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.producer = undefined;
    this.producerConnecting = undefined;
    this.admin = undefined;
  }

  private async getProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.producerConnecting ??= (async () => {
      // Idempotent with one request in flight: no duplicates from retries, order kept per partition.
      const p = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Idempotence needs unbounded retries; close() interrupts a send that waits for the broker.
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10000 },
      });
      try {
        await p.connect();
      } catch (e) {
        this.producerConnecting = undefined;
        throw e;
      }
      this.producer = p;
      return p;
    })();
    return this.producerConnecting;
  }

  private async getAdmin(): Promise<Admin> {
    if (this.admin) return this.admin;
    const a = this.kafka.admin();
    await a.connect();
    this.admin = a;
    return a;
  }
}

class KafkaSubscription {
  private consumer: Consumer | undefined;
  private stopping = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private knownTopics = new Set<string>();
  /** The consumer replacement in progress (a crash restart or a pattern refresh), see exclusive(). */
  private replacing: Promise<void> | undefined;
  /** Ends a pause() early (stop()). */
  private wake: (() => void) | undefined;
  /** Crash restarts in a row, and when the last one came: the restart delay grows with them. */
  private crashes = 0;
  private lastCrashAt = 0;
  private broken = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly spec: SubscriptionSpec,
    private readonly listener: BatchListener,
    private readonly logger: Logger,
    private readonly admin: () => Promise<Admin>,
  ) {}

  async start(): Promise<void> {
    const sessionTimeout = this.spec.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const consumer = this.kafka.consumer({
      groupId: this.spec.groupId,
      sessionTimeout,
      rebalanceTimeout: 60000,
      // At most a third of the session timeout, so one lost heartbeat does not cost the membership.
      heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
      maxWaitTimeInMs: 100,
      ...(this.spec.maxBytesPerPartition ? { maxBytesPerPartition: this.spec.maxBytesPerPartition, maxBytes: Math.max(10 * 1024 * 1024, 4 * this.spec.maxBytesPerPartition) } : {}),
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10000 },
    });
    let joins = 0;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      groupJoins.inc({ group: this.spec.groupId });
      if (++joins === 1) this.logger.info({ group: this.spec.groupId, memberId: payload.memberId, sessionTimeoutMs: sessionTimeout }, 'consumer joined its group');
      else this.logger.info({ group: this.spec.groupId, memberId: payload.memberId, joins }, 'consumer rejoined its group (rebalance)');
    });
    // kafkajs restarts a consumer after retriable errors only; after a non-retriable one (the
    // coordinator no longer knows the member: it missed its session, e.g. a batch that did not
    // heart-beat; an offset commit refused for good) it stays stopped — while this process and its
    // health endpoint carry on. Start it again (with backoff), so the partitions are consumed again.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopping || this.consumer !== consumer) return;
      this.logger.error({ group: this.spec.groupId, err: payload.error.message }, 'consumer stopped by a non-retriable error; starting it again');
      void this.restartAfterCrash(consumer);
    });
    try {
      await this.connectAndRun(consumer);
    } catch (e) {
      // Half started (connected, maybe subscribed): nothing of it may stay behind.
      if (this.consumer === consumer) this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    if (this.stopping) {
      // stop() ran while this consumer was starting: it never saw it.
      if (this.consumer === consumer) this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
    }
  }

  private async connectAndRun(consumer: Consumer): Promise<void> {
    await consumer.connect();
    if (this.spec.topicPattern) {
      this.knownTopics = await this.matchingTopics();
      await consumer.subscribe({ topics: [this.spec.topicPattern], fromBeginning: this.spec.fromBeginning ?? true });
      this.scheduleRefresh();
    } else {
      await consumer.subscribe({ topics: this.spec.topics ?? [], fromBeginning: this.spec.fromBeginning ?? true });
    }
    this.consumer = consumer;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.spec.partitionsConcurrently ?? 3,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        if (batch.messages.length === 0) return;
        const records = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          headers: toHeaders(m.headers),
          timestamp: Number(m.timestamp),
        }));
        await this.listener(
          { topic: batch.topic, partition: batch.partition, records, lag: Number(batch.offsetLag()) },
          {
            heartbeat,
            isActive: () => !this.stopping && isRunning() && !isStale(),
            commit: async (offset: string) => {
              resolveOffset(offset);
              await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(offset) + 1n).toString() }]);
            },
          },
        );
      },
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.refreshTimer);
    this.wake?.();
    await this.replacing?.catch(() => undefined);
    await this.consumer?.disconnect().catch((e: unknown) => this.logger.warn({ err: e }, 'consumer disconnect failed'));
    this.consumer = undefined;
  }

  /**
   * Runs `replace` as the only replacement of the consumer at a time (a crash restart and a
   * pattern refresh never start two consumers); a request while one runs waits for it.
   */
  private async exclusive(replace: () => Promise<void>): Promise<void> {
    while (this.replacing) await this.replacing.catch(() => undefined);
    const running = replace();
    this.replacing = running;
    try {
      await running;
    } finally {
      if (this.replacing === running) this.replacing = undefined;
    }
  }

  /** Waits `ms`, or less when stop() is called. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Starts the subscription's consumer again after `crashed` stopped for good. The delay grows
   * with crashes that follow each other (0.5 s doubling to 30 s; back to 0.5 s after 5 quiet
   * minutes), so a consumer that keeps being stopped does not rejoin its group in a tight loop.
   */
  private async restartAfterCrash(crashed: Consumer): Promise<void> {
    const now = Date.now();
    if (now - this.lastCrashAt > 300_000) this.crashes = 0;
    this.lastCrashAt = now;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.crashes++, 6));
    await this.exclusive(async () => {
      if (this.stopping || this.consumer !== crashed) return; // stopped, or replaced meanwhile
      clearTimeout(this.refreshTimer);
      await this.pause(delay);
      for (let attempt = 1; !this.stopping; attempt++) {
        await this.consumer?.disconnect().catch(() => undefined);
        this.consumer = undefined;
        try {
          await this.start();
          consumerRestarts.inc({ group: this.spec.groupId });
          return;
        } catch (e) {
          this.logger.error({ err: e, group: this.spec.groupId, attempt }, 'consumer restart failed; retrying');
          await this.pause(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)));
        }
      }
    });
  }

  private async matchingTopics(): Promise<Set<string>> {
    const admin = await this.admin();
    return new Set((await admin.listTopics()).filter((t) => this.spec.topicPattern!.test(t)));
  }

  // kafkajs resolves a pattern once, at subscribe time; re-subscribe when new topics match.
  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer); // one refresh timer at a time, whichever start() scheduled it
    this.refreshTimer = setTimeout(() => {
      void (async () => {
        try {
          const now = await this.matchingTopics();
          const added = [...now].filter((t) => !this.knownTopics.has(t));
          if ((added.length > 0 || this.broken) && !this.stopping) {
            this.logger.info({ group: this.spec.groupId, added, retry: this.broken }, 'new topics match the subscription; re-subscribing');
            try {
              await this.exclusive(async () => {
                if (this.stopping) return;
                await this.consumer?.disconnect().catch(() => undefined);
                this.consumer = undefined;
                await this.start();
              });
              this.broken = false;
              return; // start() scheduled the next refresh
            } catch (e) {
              // Keep trying on every refresh until the consumer runs again.
              this.broken = true;
              this.logger.error({ err: e, group: this.spec.groupId }, 'consumer restart failed; retrying');
            }
          }
        } catch (e) {
          this.logger.warn({ err: e, group: this.spec.groupId }, 'topic refresh failed');
        }
        if (!this.stopping) this.scheduleRefresh();
      })();
    }, this.broken ? 2000 : (this.spec.topicRefreshMs ?? 30000));
    this.refreshTimer.unref();
  }
}
