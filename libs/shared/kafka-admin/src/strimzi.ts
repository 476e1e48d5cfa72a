import { ALL_PRINCIPALS, AUDIT_REPLAY_PRINCIPAL, SERVICE_PRINCIPALS } from './catalog.js';
import { aclBindings, bindingsByUser, resolveTopics, userName, type AclBinding, type PlanOptions } from './plan.js';

export interface StrimziOptions extends PlanOptions {
  /** The Kafka resource's name in Strimzi (label strimzi.io/cluster). */
  cluster: string;
  /** `kafka.strimzi.io/v1` (Strimzi 0.49+, default) or `kafka.strimzi.io/v1beta2` for older operators. */
  apiVersion?: 'kafka.strimzi.io/v1' | 'kafka.strimzi.io/v1beta2';
}

export interface StrimziResource {
  apiVersion: string;
  kind: 'KafkaTopic' | 'KafkaUser';
  metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** A Kubernetes object name for a topic (DNS-1123 subdomain); the real name goes in spec.topicName. */
export function resourceName(topic: string): string {
  const name = topic
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  if (!name) throw new Error(`topic '${topic}' has no usable Kubernetes name`);
  return name.slice(0, 253);
}

function labels(o: StrimziOptions, component: string): Record<string, string> {
  return { 'strimzi.io/cluster': o.cluster, 'app.kubernetes.io/part-of': 'provisio', 'app.kubernetes.io/component': component };
}

export function kafkaTopics(o: StrimziOptions): StrimziResource[] {
  return resolveTopics(o).map((t) => ({
    apiVersion: o.apiVersion ?? 'kafka.strimzi.io/v1',
    kind: 'KafkaTopic',
    metadata: { name: resourceName(t.name), labels: labels(o, t.deadLetterOf ? 'dead-letter-topic' : 'topic') },
    spec: { topicName: t.name, partitions: t.partitions, replicas: t.replicationFactor, config: t.config },
  }));
}

function strimziAcls(bindings: AclBinding[]): Record<string, unknown>[] {
  // One rule per resource with all its operations, in a stable order.
  const rules = new Map<string, { resource: Record<string, string>; operations: string[] }>();
  for (const b of bindings) {
    const resource: Record<string, string> = b.resourceType === 'cluster' ? { type: 'cluster' } : { type: b.resourceType, name: b.resourceName, patternType: b.patternType };
    const k = JSON.stringify(resource);
    const rule = rules.get(k) ?? { resource, operations: [] };
    rule.operations.push(b.operation);
    rules.set(k, rule);
  }
  return [...rules.values()].map((r) => ({ type: 'allow', resource: r.resource, operations: r.operations.sort(), host: '*' }));
}

/**
 * One KafkaUser per principal: SCRAM-SHA-512 credentials (the User Operator writes them to a
 * Secret of the same name, key `password`) and its ACLs.
 */
export function kafkaUsers(o: StrimziOptions): StrimziResource[] {
  const byUser = bindingsByUser(aclBindings(o));
  return ALL_PRINCIPALS.map((p) => {
    const user = userName(p, o);
    return {
      apiVersion: o.apiVersion ?? 'kafka.strimzi.io/v1',
      kind: 'KafkaUser',
      metadata: { name: resourceName(user), labels: labels(o, (SERVICE_PRINCIPALS as readonly string[]).includes(p) ? p : p === AUDIT_REPLAY_PRINCIPAL ? 'audit' : 'external-client') },
      spec: {
        ...(resourceName(user) === user ? {} : { userName: user }),
        authentication: { type: 'scram-sha-512' },
        authorization: { type: 'simple', acls: strimziAcls(byUser.get(user) ?? []) },
      },
    };
  });
}
