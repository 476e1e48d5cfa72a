import { describe, expect, it } from '@jest/globals';
import { Topics } from '@provisio/contracts';
import { ALL_PRINCIPALS, TOPICS, aclBindings, kafkaUsers, replayableTopics, catalogProblems, describeBinding, maxPartitionsRead, resolveTopics, retentionMs, type AclBinding, type TopicDefinition } from '../src/index.js';

const has = (bindings: AclBinding[], user: string, operation: string, resource: string, name: string) =>
  bindings.some((b) => b.user === user && b.operation === operation && b.resourceType === resource && b.resourceName === name);

/** Whether `user` may do `op` on topic `topic` under the bindings, as Kafka's authorizer decides it. */
function allowed(bindings: AclBinding[], user: string, op: 'Read' | 'Write' | 'Describe', topic: string): boolean {
  return bindings.some(
    (b) =>
      b.user === user &&
      b.resourceType === 'topic' &&
      (b.patternType === 'literal' ? b.resourceName === topic : topic.startsWith(b.resourceName)) &&
      (b.operation === op || (op === 'Describe' && (b.operation === 'Read' || b.operation === 'Write'))),
  );
}

describe('Kafka catalog', () => {
  it('is valid and defines the topics of docs/architecture.md with their dead-letter topics', () => {
    expect(catalogProblems()).toEqual([]);
    const names = resolveTopics().map((t) => t.name);
    for (const t of [Topics.lifecycle, Topics.results, Topics.commands('ldap'), Topics.commands('scim'), Topics.commands('postgres')]) {
      expect(names).toContain(t);
      expect(names).toContain(`${t}.dlt`);
    }
    expect(names).toEqual(expect.arrayContaining([Topics.siem, Topics.checkpoints]));
    expect(names).toEqual(expect.arrayContaining([Topics.policyDecisions, `${Topics.policyDecisions}.dlt`, Topics.policyViolations, Topics.policyChanges, `${Topics.policyChanges}.dlt`]));
    expect(names).not.toContain(`${Topics.siem}.dlt`);
  });

  it('resolves replication, retention and min.insync.replicas; a small cluster gets a safe min.insync', () => {
    const lifecycle = resolveTopics().find((t) => t.name === Topics.lifecycle)!;
    expect(lifecycle).toMatchObject({ partitions: 12, replicationFactor: 3, config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * 86_400_000), 'min.insync.replicas': '2' } });
    const single = resolveTopics({ replicationFactor: 1 }).find((t) => t.name === Topics.lifecycle)!;
    expect(single.config['min.insync.replicas']).toBe('1');
    expect(resolveTopics().find((t) => t.name === Topics.checkpoints)!.config['retention.ms']).toBe('-1');
    const dlt = resolveTopics({ topicPrefix: 'stage.' }).find((t) => t.name === 'stage.hr.lifecycle.dlt')!;
    expect(dlt).toMatchObject({ deadLetterOf: 'stage.hr.lifecycle', partitions: 3, config: { 'retention.ms': String(30 * 86_400_000) } });
    expect(retentionMs('12h')).toBe(String(12 * 3_600_000));
    expect(() => resolveTopics({ replicationFactor: 0 })).toThrow('replication factor 0: must be a positive integer');
  });

  it('names every problem of a bad catalog', () => {
    const bad: TopicDefinition[] = [
      { name: 'hr.bad topic', partitions: 0, retention: '3w' as never, deadLetter: false, writers: [], readers: ['nobody' as never, 'audit'], description: '' },
      { name: 'other.x', partitions: 1, retention: '1d', deadLetter: false, writers: ['policy'], readers: [], description: '' },
      { name: 'other.x', partitions: 1, retention: '1d', cleanup: 'compact', deadLetter: false, writers: ['audit'], readers: [], description: '' },
      { name: 'audit.other', partitions: 1, retention: '1d', deadLetter: false, writers: ['policy'], readers: ['audit'], description: '' },
    ];
    expect(catalogProblems(bad)).toEqual([
      "topic 'hr.bad topic': name must be 1-249 of [a-zA-Z0-9._-]",
      "topic 'hr.bad topic': partitions 0 must be a positive integer",
      "topic 'hr.bad topic': retention '3w': expected <n>h, <n>d or forever",
      "topic 'hr.bad topic': unknown principal 'nobody'",
      "topic 'hr.bad topic': has no writer",
      "topic 'hr.bad topic': audit reads by family (AUDIT_READS), do not list it as a reader",
      "topic 'other.x': audit must record it; name it under one of hr., provisioning., policy., connector.",
      "topic 'other.x': defined twice",
      "topic 'other.x': a compacted topic keeps the latest record per key; use retention 'forever'",
      "topic 'audit.other': audit may read back only its own output outside hr., provisioning., policy., connector.",
      "topic 'audit.other': audit must record it; name it under one of hr., provisioning., policy., connector.",
    ]);
    expect(() => aclBindings({ topics: bad })).toThrow(/invalid Kafka catalog:\n {2}- topic 'hr.bad topic'/);
  });

  it('adding a topic is one catalog line: topic, dead letters and ACLs follow', () => {
    const topics: TopicDefinition[] = [...TOPICS, { name: 'connector.health', partitions: 3, retention: '7d', deadLetter: true, writers: ['policy'], readers: ['connector-ldap'], description: 'test' }];
    expect(resolveTopics({ topics }).map((t) => t.name)).toEqual(expect.arrayContaining(['connector.health', 'connector.health.dlt']));
    const b = aclBindings({ topics });
    expect(allowed(b, 'provisio-policy', 'Write', 'connector.health')).toBe(true);
    expect(allowed(b, 'provisio-connector-ldap', 'Read', 'connector.health')).toBe(true);
    expect(allowed(b, 'provisio-connector-ldap', 'Write', 'connector.health.dlt')).toBe(true);
    expect(allowed(b, 'provisio-audit', 'Read', 'connector.health')).toBe(true);
  });
});

describe('ACLs', () => {
  const b = aclBindings();
  const user = (s: string) => `provisio-${s}`;

  it('lets each service do exactly what its place in the pipeline needs', () => {
    expect(allowed(b, user('hr-ingest'), 'Write', Topics.lifecycle)).toBe(true);
    expect(allowed(b, user('policy'), 'Read', Topics.lifecycle)).toBe(true);
    expect(allowed(b, user('policy'), 'Write', 'hr.lifecycle.dlt')).toBe(true);
    expect(allowed(b, user('policy'), 'Read', Topics.results)).toBe(true);
    for (const k of ['ldap', 'scim', 'postgres']) {
      expect(allowed(b, user('policy'), 'Write', Topics.commands(k))).toBe(true);
      expect(allowed(b, user(`connector-${k}`), 'Read', Topics.commands(k))).toBe(true);
      expect(allowed(b, user(`connector-${k}`), 'Write', Topics.results)).toBe(true);
      // They check at start that the dead-letter topic of what they write exists.
      expect(allowed(b, user(`connector-${k}`), 'Describe', 'provisioning.results.dlt')).toBe(true);
      expect(allowed(b, user(`connector-${k}`), 'Write', 'provisioning.results.dlt')).toBe(false);
    }
    expect(allowed(b, user('audit'), 'Write', Topics.siem)).toBe(true);
    expect(allowed(b, user('audit'), 'Write', Topics.checkpoints)).toBe(true);
    expect(allowed(b, user('siem-reader'), 'Read', Topics.siem)).toBe(true);
    // The optional SIEM formats have topics of their own that audit writes and the SIEM reads.
    for (const t of [`${Topics.siem}.cef`, `${Topics.siem}.ecs`]) {
      expect(allowed(b, user('audit'), 'Write', t)).toBe(true);
      expect(allowed(b, user('siem-reader'), 'Read', t)).toBe(true);
      expect(allowed(b, user('policy'), 'Write', t)).toBe(false);
    }
  });

  it('refuses what the issue forbids: connectors never read HR topics, policy never writes audit topics, only audit reads everything', () => {
    for (const k of ['ldap', 'scim', 'postgres']) {
      expect(allowed(b, user(`connector-${k}`), 'Read', Topics.lifecycle)).toBe(false);
      expect(allowed(b, user(`connector-${k}`), 'Describe', Topics.lifecycle)).toBe(false);
      for (const other of ['ldap', 'scim', 'postgres'].filter((o) => o !== k)) expect(allowed(b, user(`connector-${k}`), 'Read', Topics.commands(other))).toBe(false);
    }
    expect(allowed(b, user('policy'), 'Write', Topics.siem)).toBe(false);
    expect(allowed(b, user('policy'), 'Write', Topics.checkpoints)).toBe(false);
    expect(allowed(b, user('hr-ingest'), 'Read', Topics.results)).toBe(false);
    expect(allowed(b, user('siem-reader'), 'Read', Topics.lifecycle)).toBe(false);
    const everyTopic = resolveTopics().map((t) => t.name).filter((n) => !n.startsWith('audit.'));
    for (const principal of ['hr-ingest', 'policy', 'connector-ldap', 'connector-scim', 'connector-postgres', 'siem-reader']) {
      expect({ principal, readsAll: everyTopic.every((t) => allowed(b, user(principal), 'Read', t)) }).toEqual({ principal, readsAll: false });
    }
    expect(everyTopic.every((t) => allowed(b, user('audit'), 'Read', t))).toBe(true);
  });

  it('grants consumer groups by service prefix, the idempotent producer to writers, and never Create, Alter or Delete', () => {
    expect(has(b, user('policy'), 'Read', 'group', 'policy')).toBe(true);
    expect(b.find((x) => x.resourceType === 'group' && x.user === user('policy'))!.patternType).toBe('prefix');
    expect(b.some((x) => x.resourceType === 'group' && x.user === user('hr-ingest'))).toBe(false);
    for (const s of ['hr-ingest', 'policy', 'connector-ldap', 'audit']) expect(has(b, user(s), 'IdempotentWrite', 'cluster', 'kafka-cluster')).toBe(true);
    expect(has(b, user('siem-reader'), 'IdempotentWrite', 'cluster', 'kafka-cluster')).toBe(false);
    expect(new Set(b.map((x) => x.operation))).toEqual(new Set(['Read', 'Write', 'Describe', 'IdempotentWrite']));
    // Read/Write imply Describe: no redundant rules, no duplicates.
    const keys = b.map(describeBinding);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("keeps audit's ingest principal read-only on the pipeline: only the separate replay principal writes replayable topics", () => {
    const pipeline = [Topics.lifecycle, ...['ldap', 'scim', 'postgres'].map((k) => Topics.commands(k)), Topics.results, Topics.policyDecisions, Topics.policyChanges, Topics.policyViolations, Topics.drift];
    for (const t of pipeline) {
      expect({ t, write: allowed(b, user('audit'), 'Write', t), dltWrite: allowed(b, user('audit'), 'Write', `${t}.dlt`) }).toEqual({ t, write: false, dltWrite: false });
      expect({ t, read: allowed(b, user('audit'), 'Read', t) }).toEqual({ t, read: true });
    }
    // What audit must write: its own output topics, and its consumer group.
    const auditWrites = b.filter((x) => x.user === user('audit') && x.operation === 'Write').map((x) => x.resourceName).sort();
    expect(auditWrites).toEqual([Topics.checkpoints, Topics.siem, `${Topics.siem}.cef`, `${Topics.siem}.ecs`].sort());
    expect(has(b, user('audit'), 'Read', 'group', 'audit')).toBe(true);

    // The replay principal: Write on exactly the audited topics with dead letters, the idempotent producer, nothing else.
    const replay = b.filter((x) => x.user === user('audit-replay'));
    for (const t of [Topics.lifecycle, ...['ldap', 'scim', 'postgres'].map((k) => Topics.commands(k)), Topics.results]) expect({ t, write: allowed(b, user('audit-replay'), 'Write', t) }).toEqual({ t, write: true });
    expect(replay.filter((x) => x.resourceType === 'topic').map((x) => `${x.operation} ${x.resourceName}`).sort()).toEqual(replayableTopics().map((t) => `Write ${t.name}`).sort());
    expect(replay.filter((x) => x.resourceType !== 'topic').map(describeBinding)).toEqual(['User:provisio-audit-replay IdempotentWrite cluster kafka-cluster']);
    for (const t of [Topics.lifecycle, `${Topics.lifecycle}.dlt`, Topics.siem, Topics.checkpoints]) expect({ t, read: allowed(b, user('audit-replay'), 'Read', t) }).toEqual({ t, read: false });
    expect(allowed(b, user('audit-replay'), 'Write', Topics.siem)).toBe(false);
    expect(allowed(b, user('audit-replay'), 'Write', `${Topics.lifecycle}.dlt`)).toBe(false);
    expect(b.some((x) => x.user === user('audit-replay') && x.resourceType === 'group')).toBe(false);
    expect(ALL_PRINCIPALS).toContain('audit-replay');
    // Strimzi gets a KafkaUser for it, with the same ACLs.
    const ku = kafkaUsers({ cluster: 'kafka' }).find((u) => u.metadata.name === 'provisio-audit-replay')!;
    const acls = (ku.spec['authorization'] as { acls: { resource: { name?: string; type: string }; operations: string[] }[] }).acls;
    expect(acls.filter((a) => a.resource.type === 'topic').map((a) => a.resource.name).sort()).toEqual(replayableTopics().map((t) => t.name).sort());
    expect(acls.flatMap((a) => a.operations).filter((o) => o !== 'Write' && o !== 'IdempotentWrite')).toEqual([]);
    const auditUser = kafkaUsers({ cluster: 'kafka' }).find((u) => u.metadata.name === 'provisio-audit')!;
    const auditAcls = (auditUser.spec['authorization'] as { acls: { resource: { name?: string }; operations: string[] }[] }).acls;
    expect(auditAcls.filter((a) => a.operations.includes('Write')).map((a) => a.resource.name).sort()).toEqual(auditWrites);
  });

  it('lets `provisio-audit verify --kafka-checkpoints` (the audit principal) read audit.checkpoints back, and no other principal or audit topic', () => {
    expect(has(b, user('audit'), 'Read', 'topic', Topics.checkpoints)).toBe(true);
    // The CLI's throw-away group (audit-cli-<pid>-<time>) is inside audit's group prefix.
    expect(b.some((x) => x.user === user('audit') && x.resourceType === 'group' && x.patternType === 'prefix' && 'audit-cli-1-2'.startsWith(x.resourceName) && x.operation === 'Read')).toBe(true);
    for (const t of [Topics.siem, `${Topics.siem}.cef`, `${Topics.siem}.ecs`]) expect({ t, read: allowed(b, user('audit'), 'Read', t) }).toEqual({ t, read: false });
    const readers = ALL_PRINCIPALS.filter((p) => allowed(b, user(p), 'Read', Topics.checkpoints));
    expect(readers).toEqual(['audit']);
    // Strimzi's KafkaUser says the same.
    const auditUser = kafkaUsers({ cluster: 'kafka' }).find((u) => u.metadata.name === 'provisio-audit')!;
    const acls = (auditUser.spec['authorization'] as { acls: { resource: { name?: string }; operations: string[] }[] }).acls;
    expect(acls.filter((a) => a.resource.name === Topics.checkpoints).flatMap((a) => a.operations).sort()).toEqual(['Read', 'Write']);
  });

  it('prefixes topics, groups and users for several stacks on one cluster', () => {
    const p = aclBindings({ topicPrefix: 'stage.', userPrefix: 'stage-' });
    expect(has(p, 'stage-policy', 'Read', 'topic', 'stage.hr.lifecycle')).toBe(true);
    expect(has(p, 'stage-policy', 'Read', 'group', 'stage.policy')).toBe(true);
    expect(has(p, 'stage-audit', 'Read', 'topic', 'stage.hr.')).toBe(true);
  });

  it('caps consumer parallelism at the partitions of what each principal reads', () => {
    expect(maxPartitionsRead('connector-ldap')).toBe(12);
    expect(maxPartitionsRead('audit')).toBe(12);
    expect(maxPartitionsRead('hr-ingest')).toBe(0);
  });
});
