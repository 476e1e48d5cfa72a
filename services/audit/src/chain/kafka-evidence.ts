// What Kafka holds about the chain, for verification: the signed checkpoints published to
// `audit.checkpoints` (a copy outside the database) and the audit consumer group's committed
// offsets. Used by `provisio-audit verify --kafka-checkpoints / --kafka-offsets` and by
// `GET /v1/verification?kafkaCheckpoints=true&kafkaOffsets=true` alike.
import type { SignedCheckpoint } from '@provisio/audit-domain';
import { avroCodec } from '@provisio/contracts';
import { Kafka, type KafkaConfig } from 'kafkajs';
import { AuditTopics } from '../siem/feed-publisher.js';
import type { CommittedOffset, VerifyOptions } from './chain.service.js';

/** A Kafka connection (TLS and SASL as configured) and the prefix of every topic and group. */
export interface KafkaAccess {
  config: KafkaConfig;
  /** KAFKA_TOPIC_PREFIX: of every topic and consumer group. */
  topicPrefix: string;
}

/** Which comparisons with Kafka a verification adds. */
export interface KafkaChecks {
  /** The signed checkpoints of `audit.checkpoints` are held against the chain like stored ones. */
  checkpoints?: boolean | undefined;
  /** The ledger must reach every offset the audit consumer group committed, without holes inside a partition. */
  offsets?: boolean | undefined;
}

/** Why the checks cannot run on that range, or null. Committed offsets speak about the chain's end. */
export function kafkaChecksProblem(range: { toSeq?: number | undefined }, checks: KafkaChecks): string | null {
  return checks.offsets && range.toSeq !== undefined ? 'the committed offsets are compared with the end of the chain: not with toSeq' : null;
}

let readers = 0;
/**
 * A throw-away consumer group of the service's verification API for reading `audit.checkpoints`
 * once: `<prefix>audit-verify-…`, inside the audit principal's group ACL (prefix `<prefix>audit`).
 */
export function verifyGroupId(topicPrefix: string): string {
  return `${topicPrefix}audit-verify-${process.pid}-${Date.now()}-${++readers}`;
}

/** Kafka was not reachable, or not read to the end in time: nothing about the chain is concluded. */
export class KafkaEvidenceUnavailable extends Error {}

export class KafkaEvidence {
  constructor(
    private readonly access: KafkaAccess,
    /**
     * A throw-away consumer group for reading `audit.checkpoints` once (offsets are never
     * committed); inside the audit principal's group ACL (prefix `<KAFKA_TOPIC_PREFIX>audit`),
     * never the service's own group `<prefix>audit`.
     */
    private readonly readerGroupId: () => string,
    private readonly timeoutMs = 60_000,
  ) {}

  /** The verify options for `range` with what Kafka holds added (read only for the checks asked for). */
  async verifyOptions(range: { fromSeq?: number | undefined; toSeq?: number | undefined }, checks: KafkaChecks): Promise<VerifyOptions> {
    const problem = kafkaChecksProblem(range, checks);
    if (problem) throw new Error(problem);
    return {
      fromSeq: range.fromSeq,
      toSeq: range.toSeq,
      extraCheckpoints: checks.checkpoints ? await this.unavailable('reading audit.checkpoints', () => this.checkpoints()) : [],
      committedOffsets: checks.offsets ? await this.unavailable('reading the audit group offsets', () => this.committedOffsets()) : undefined,
    };
  }

  /** Every checkpoint on the Kafka topic, read to the end it had when the read began. */
  async checkpoints(): Promise<SignedCheckpoint[]> {
    const kafka = new Kafka(this.access.config);
    const topic = `${this.access.topicPrefix}${AuditTopics.checkpoints}`;
    const admin = kafka.admin();
    await admin.connect();
    let ends: Awaited<ReturnType<typeof admin.fetchTopicOffsets>>;
    try {
      ends = await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect();
    }
    const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
    const found: SignedCheckpoint[] = [];
    if (remaining.size === 0) return found;
    const consumer = kafka.consumer({ groupId: this.readerGroupId(), maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve, reject) => {
        // A partition that never delivers up to its end (a broker gone mid-read) ends the read.
        timer = setTimeout(() => reject(new Error(`audit.checkpoints not read to its end within ${this.timeoutMs} ms`)), this.timeoutMs);
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({
            // Reads only: nothing committed, so the throw-away group leaves no offsets behind.
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const c = avroCodec().decode('AuditCheckpoint', message.value!);
              found.push({ statement: JSON.parse(c.statement) as SignedCheckpoint['statement'], signature: c.signature });
              if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n)) remaining.delete(partition);
              if (remaining.size === 0) resolve();
            },
          })
          .catch(reject);
      }).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect();
    }
    return found;
  }

  /** The audit consumer group's committed offsets, topic names without the prefix. */
  async committedOffsets(): Promise<CommittedOffset[]> {
    const prefix = this.access.topicPrefix;
    const admin = new Kafka(this.access.config).admin();
    await admin.connect();
    try {
      const groups = await admin.fetchOffsets({ groupId: `${prefix}audit` });
      return groups
        .filter((g) => g.topic.startsWith(prefix))
        .flatMap((g) => g.partitions.map((p) => ({ topic: g.topic.slice(prefix.length), partition: p.partition, offset: p.offset })));
    } finally {
      await admin.disconnect();
    }
  }

  private async unavailable<T>(what: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      throw new KafkaEvidenceUnavailable(`Kafka unavailable (${what}): ${(e as Error).message}`, { cause: e });
    }
  }
}
