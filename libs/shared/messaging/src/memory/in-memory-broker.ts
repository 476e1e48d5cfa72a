import type { BatchListener, InboundRecord, MessageBroker, OutgoingMessage, RunningSubscription, SubscriptionSpec, TopicSpec } from '../port.js';

interface Topic {
  partitions: InboundRecord[][];
}

/**
 * An in-process driver of the messaging port for unit tests: partitions by key hash, per-group
 * committed offsets, one consumer per group. Not a broker simulation beyond that.
 */
export class InMemoryBroker implements MessageBroker {
  private readonly topics = new Map<string, Topic>();
  private readonly committed = new Map<string, string>();
  private readonly loops = new Set<{ stop: () => Promise<void> }>();
  failNextSends = 0;

  constructor(private readonly defaultPartitions = 1) {}

  async send(messages: OutgoingMessage[]): Promise<void> {
    if (this.failNextSends > 0) {
      this.failNextSends--;
      throw Object.assign(new Error('in-memory broker: send failed'), { retriable: true });
    }
    for (const m of messages) {
      const topic = this.topic(m.topic);
      const p = m.key === null ? 0 : hash(m.key) % topic.partitions.length;
      const part = topic.partitions[p]!;
      part.push({
        topic: m.topic,
        partition: p,
        offset: String(part.length),
        key: m.key === null ? null : Buffer.from(m.key),
        value: m.value,
        headers: { ...m.headers },
        timestamp: Date.now(),
      });
    }
  }

  /** Everything written to a topic, in partition then offset order. */
  records(topic: string): InboundRecord[] {
    return (this.topics.get(topic)?.partitions ?? []).flat();
  }

  committedOffset(groupId: string, topic: string, partition: number): string | undefined {
    return this.committed.get(`${groupId}|${topic}|${partition}`);
  }

  async subscribe(spec: SubscriptionSpec, listener: BatchListener): Promise<RunningSubscription> {
    let running = true;
    let idle: (() => void) | undefined;
    const loop = (async () => {
      while (running) {
        let worked = false;
        for (const [name, topic] of this.topics) {
          const matches = spec.topicPattern ? spec.topicPattern.test(name) : (spec.topics ?? []).includes(name);
          if (!matches) continue;
          for (let p = 0; p < topic.partitions.length && running; p++) {
            const key = `${spec.groupId}|${name}|${p}`;
            const from = this.committed.has(key) ? Number(this.committed.get(key)) + 1 : 0;
            const records = topic.partitions[p]!.slice(from, from + 100);
            if (records.length === 0) continue;
            worked = true;
            await listener(
              { topic: name, partition: p, records, lag: topic.partitions[p]!.length - from - records.length },
              {
                heartbeat: async () => undefined,
                isActive: () => running,
                commit: async (offset) => {
                  this.committed.set(key, offset);
                },
              },
            );
          }
        }
        if (!worked) await new Promise<void>((r) => ((idle = r), setTimeout(r, 5)));
      }
    })();
    const handle = {
      stop: async () => {
        running = false;
        idle?.();
        await loop;
      },
    };
    this.loops.add(handle);
    return { groupId: spec.groupId, stop: async () => (this.loops.delete(handle), handle.stop()) };
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    for (const t of topics) this.topic(t.topic, t.partitions);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    await Promise.all([...this.loops].map((l) => l.stop()));
    this.loops.clear();
  }

  private topic(name: string, partitions = this.defaultPartitions): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = { partitions: Array.from({ length: partitions }, () => []) };
      this.topics.set(name, t);
    }
    return t;
  }
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) >>> 0;
  return h;
}
