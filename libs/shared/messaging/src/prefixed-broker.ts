import type { MessageBroker, RunningSubscription, SubscriptionSpec, TopicSpec, BatchListener, OutgoingMessage } from './port.js';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Applies a topic prefix (and group prefix) at the edge so the rest of the code only ever sees
 * logical names like `hr.lifecycle`. Lets several stacks or test runs share one cluster.
 */
export function withTopicPrefix(inner: MessageBroker, prefix: string): MessageBroker {
  if (!prefix) return inner;
  const strip = (topic: string) => (topic.startsWith(prefix) ? topic.slice(prefix.length) : topic);
  return {
    send: (messages: OutgoingMessage[]) => inner.send(messages.map((m) => ({ ...m, topic: prefix + m.topic }))),
    subscribe: (spec: SubscriptionSpec, listener: BatchListener): Promise<RunningSubscription> => {
      const pattern = spec.topicPattern
        ? new RegExp(`^${escapeRegExp(prefix)}(?:${spec.topicPattern.source.replace(/^\^/, '')})`, spec.topicPattern.flags)
        : undefined;
      return inner.subscribe(
        { ...spec, groupId: prefix + spec.groupId, topics: spec.topics?.map((t) => prefix + t), ...(pattern ? { topicPattern: pattern } : {}) },
        (batch, controls) =>
          listener({ ...batch, topic: strip(batch.topic), records: batch.records.map((r) => ({ ...r, topic: strip(r.topic) })) }, controls),
      );
    },
    ensureTopics: (topics: TopicSpec[]) => inner.ensureTopics(topics.map((t) => ({ ...t, topic: prefix + t.topic }))),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}
