import kafkajs, { type Admin, type AclEntry } from 'kafkajs';
import { ALL_PRINCIPALS } from './catalog.js';
import { aclBindings, describeBinding, resolveTopics, userName, type AclBinding, type PlanOptions, type ResolvedTopic } from './plan.js';

export interface ApplyOptions extends PlanOptions {
  /** Only report what would change. */
  dryRun?: boolean;
  /** Remove ACLs of Provisio's principals that the catalog does not define. */
  pruneAcls?: boolean;
  /** Add partitions to existing topics that have fewer than defined (moves keys to new partitions: see docs/runbook.md). */
  allowPartitionIncrease?: boolean;
  log?: (line: string) => void;
}

export interface ApplyReport {
  /** Every difference the run fixed (or, with dryRun, would fix), one line each. */
  changes: string[];
  createdTopics: string[];
  reconfiguredTopics: string[];
  grownTopics: string[];
  /** Differences the command did not fix (e.g. fewer partitions without allowPartitionIncrease). */
  drift: string[];
  createdAcls: number;
  deletedAcls: number;
}

// kafkajs is CommonJS: its enums are properties of the default export, not named ESM exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ConfigResourceTypes, ResourcePatternTypes } = kafkajs;
const nameOf = (values: object, v: number) => Object.entries(values).find(([, n]) => n === v)?.[0] ?? String(v);

const RESOURCE: Record<AclBinding['resourceType'], AclEntry['resourceType']> = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  cluster: AclResourceTypes.CLUSTER,
  transactionalId: AclResourceTypes.TRANSACTIONAL_ID,
};
const OPERATION: Record<AclBinding['operation'], AclEntry['operation']> = {
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Describe: AclOperationTypes.DESCRIBE,
  IdempotentWrite: AclOperationTypes.IDEMPOTENT_WRITE,
};

export function toAclEntry(b: AclBinding): AclEntry {
  return {
    principal: `User:${b.user}`,
    host: '*',
    operation: OPERATION[b.operation],
    permissionType: AclPermissionTypes.ALLOW,
    resourceType: RESOURCE[b.resourceType],
    resourceName: b.resourceName,
    resourcePatternType: b.patternType === 'prefix' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
  };
}

const entryKey = (e: AclEntry) => [e.principal, e.host, e.operation, e.permissionType, e.resourceType, e.resourceName, e.resourcePatternType].join('|');

async function applyTopics(admin: Admin, topics: ResolvedTopic[], o: ApplyOptions, report: ApplyReport): Promise<void> {
  const log = o.log ?? (() => undefined);
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.name));
  report.changes.push(...missing.map((t) => `topic ${t.name} is missing`));
  for (const t of missing) log(`${o.dryRun ? 'would create' : 'create'} topic ${t.name} (partitions ${t.partitions}, replicas ${t.replicationFactor}, ${Object.entries(t.config).map(([k, v]) => `${k}=${v}`).join(', ')})`);
  if (missing.length > 0 && !o.dryRun) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor: t.replicationFactor, configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })) })),
    });
  }
  report.createdTopics.push(...missing.map((t) => t.name));

  const present = topics.filter((t) => existing.has(t.name));
  if (present.length === 0) return;
  const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
  const grow: { topic: string; count: number }[] = [];
  for (const t of present) {
    const have = metadata.topics.find((m) => m.name === t.name)?.partitions.length ?? 0;
    if (have > t.partitions) report.drift.push(`topic ${t.name} has ${have} partitions, more than the ${t.partitions} defined (partitions cannot shrink)`);
    if (have < t.partitions) {
      if (o.allowPartitionIncrease) {
        grow.push({ topic: t.name, count: t.partitions });
        report.changes.push(`topic ${t.name} has ${have} partitions, ${t.partitions} defined`);
      }
      else report.drift.push(`topic ${t.name} has ${have} partitions, fewer than the ${t.partitions} defined (rerun with --allow-partition-increase, see docs/runbook.md)`);
    }
  }
  for (const g of grow) log(`${o.dryRun ? 'would add' : 'add'} partitions to ${g.topic} (to ${g.count})`);
  if (grow.length > 0 && !o.dryRun) await admin.createPartitions({ topicPartitions: grow });
  report.grownTopics.push(...grow.map((g) => g.topic));

  const described = await admin.describeConfigs({ includeSynonyms: false, resources: present.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.name })) });
  for (const t of present) {
    const entries = described.resources.find((r) => r.resourceName === t.name)?.configEntries ?? [];
    const current = (k: string) => entries.find((e) => e.configName === k)?.configValue;
    const differs = Object.entries(t.config).filter(([k, v]) => current(k) !== v);
    if (differs.length === 0) continue;
    report.changes.push(...differs.map(([k, v]) => `topic ${t.name}: ${k} is ${current(k) ?? 'unset'}, defined ${v}`));
    log(`${o.dryRun ? 'would set' : 'set'} ${t.name}: ${differs.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    if (!o.dryRun) {
      // AlterConfigs replaces the topic's dynamic configuration: send the whole definition.
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: t.name, configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })) }] });
    }
    report.reconfiguredTopics.push(t.name);
  }
}

async function applyAcls(admin: Admin, bindings: AclBinding[], o: ApplyOptions, report: ApplyReport): Promise<void> {
  const log = o.log ?? (() => undefined);
  const wanted = bindings.map(toAclEntry);
  const principals = ALL_PRINCIPALS.map((p) => `User:${userName(p, o)}`);
  const current: AclEntry[] = [];
  for (const principal of principals) {
    const r = await admin.describeAcls({
      principal,
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    for (const res of r.resources) {
      for (const acl of res.acls) current.push({ ...acl, resourceType: res.resourceType, resourceName: res.resourceName, resourcePatternType: res.resourcePatternType });
    }
  }
  const have = new Set(current.map(entryKey));
  const missing = bindings.filter((b) => !have.has(entryKey(toAclEntry(b))));
  report.changes.push(...missing.map((b) => `ACL missing: ${describeBinding(b)}`));
  for (const b of missing) log(`${o.dryRun ? 'would allow' : 'allow'} ${describeBinding(b)}`);
  if (missing.length > 0 && !o.dryRun) await admin.createAcls({ acl: missing.map(toAclEntry) });
  report.createdAcls = missing.length;

  const want = new Set(wanted.map(entryKey));
  const extra = current.filter((e) => !want.has(entryKey(e)));
  if (extra.length === 0) return;
  if (!o.pruneAcls) {
    report.drift.push(...extra.map((e) => `ACL not in the catalog: ${e.principal} op ${nameOf(AclOperationTypes, e.operation)} on ${nameOf(AclResourceTypes, e.resourceType)} ${e.resourceName} (rerun with --prune-acls to remove)`));
    return;
  }
  report.changes.push(...extra.map((e) => `ACL not in the catalog: ${e.principal} op ${nameOf(AclOperationTypes, e.operation)} on ${nameOf(AclResourceTypes, e.resourceType)} ${e.resourceName}`));
  for (const e of extra) log(`${o.dryRun ? 'would remove' : 'remove'} ACL ${e.principal} op ${nameOf(AclOperationTypes, e.operation)} on ${nameOf(AclResourceTypes, e.resourceType)} ${e.resourceName}`);
  if (!o.dryRun) await admin.deleteAcls({ filters: extra.map((e) => ({ ...e })) });
  report.deletedAcls = extra.length;
}

/**
 * Every difference between the cluster and the catalog (nothing is changed): what apply would
 * fix plus what it would leave (partitions it may not add or cannot remove, ACLs it may not prune).
 */
export async function catalogDrift(admin: Admin, o: PlanOptions & { acls?: boolean; pruneAcls?: boolean; allowPartitionIncrease?: boolean } = {}): Promise<string[]> {
  const r = await applyCatalog(admin, { ...o, dryRun: true, log: () => undefined });
  return [...r.changes, ...r.drift];
}

/**
 * Makes a cluster match the catalog: creates missing topics (and dead-letter topics), sets
 * their configuration, and creates the principals' ACLs. Idempotent; `dryRun` only reports.
 * Needs an admin principal (a super user, or Create/Alter/AlterConfigs/Describe on the cluster).
 */
export async function applyCatalog(admin: Admin, o: ApplyOptions & { acls?: boolean } = {}): Promise<ApplyReport> {
  const report: ApplyReport = { changes: [], createdTopics: [], reconfiguredTopics: [], grownTopics: [], drift: [], createdAcls: 0, deletedAcls: 0 };
  await applyTopics(admin, resolveTopics(o), o, report);
  if (o.acls ?? true) await applyAcls(admin, aclBindings(o), o, report);
  return report;
}
