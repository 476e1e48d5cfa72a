import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics } from '@provisio/contracts';
import { kafkaBrokers, testKafka, uniqueTopicPrefix, waitFor } from '@provisio/testing';
import kafkajs, { type Admin } from 'kafkajs';
import { EXIT_DRIFT, main } from '../src/cli.js';
import { resolveTopics } from '../src/index.js';

const { ConfigResourceTypes } = kafkajs;

/**
 * The admin command's exit status against the real broker: `check` fails when the cluster drifts
 * from the catalog (missing topic, partitions, configuration), `apply` fails when it leaves a
 * difference. Topics live under a prefix of their own; the shared broker has no authorizer, so
 * ACL drift is proven on the SASL broker (deploy/test/kafka-security.e2e.spec.ts).
 */
describe('kafka-admin check and apply exit status (real broker)', () => {
  const prefix = uniqueTopicPrefix();
  const env = { KAFKA_BROKERS: kafkaBrokers().join(','), KAFKA_TOPIC_PREFIX: prefix };
  const args = ['--replication-factor', '1', '--no-acls'];
  let admin: Admin;

  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main([...argv, ...args], env, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  };

  beforeAll(async () => {
    admin = testKafka('kafka-admin-cli-test').admin();
    await admin.connect();
  });

  afterAll(async () => {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
  });

  it('check exits 3 and names every missing topic on an empty cluster; apply creates them and exits 0; check then exits 0', async () => {
    const before = await run('check');
    expect(before.code).toBe(EXIT_DRIFT);
    expect(before.out).toEqual(expect.arrayContaining([`drift: topic ${prefix}${Topics.lifecycle} is missing`, `drift: topic ${prefix}${Topics.lifecycle}.dlt is missing`]));
    expect(before.out.at(-1)).toBe(`${resolveTopics().length} difference(s) from the catalog`);

    const applied = await run('apply');
    expect({ code: applied.code, err: applied.err }).toEqual({ code: 0, err: [] });
    expect(applied.out.at(-1)).toBe(`changed ${resolveTopics().length} item(s); 0 difference(s) left`);

    const after = await run('check');
    expect({ code: after.code, out: after.out }).toEqual({ code: 0, out: ['0 difference(s) from the catalog'] });
  }, 120_000);

  it('check exits 3 on a configuration or partition difference; apply fixes the configuration, and exits 3 for the partitions it cannot remove', async () => {
    const lifecycle = `${prefix}${Topics.lifecycle}`;
    const results = `${prefix}${Topics.results}`;
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: lifecycle, configEntries: [{ name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: '3600000' }, { name: 'min.insync.replicas', value: '1' }] }],
    });
    await admin.createPartitions({ topicPartitions: [{ topic: results, count: 13 }] });
    // The broker answers from its metadata cache, which follows the controller a moment later.
    await waitFor(
      async () => {
        const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: lifecycle }] });
        const meta = await admin.fetchTopicMetadata({ topics: [results] });
        return cfg.resources[0]!.configEntries.find((e) => e.configName === 'retention.ms')?.configValue === '3600000' && meta.topics[0]!.partitions.length === 13;
      },
      { timeoutMs: 10_000, what: 'the altered topics' },
    );

    const drifted = await run('check');
    expect(drifted.code).toBe(EXIT_DRIFT);
    expect(drifted.out).toEqual([
      `drift: topic ${lifecycle}: retention.ms is 3600000, defined ${30 * 86_400_000}`,
      `drift: topic ${results} has 13 partitions, more than the 12 defined (partitions cannot shrink)`,
      '2 difference(s) from the catalog',
    ]);

    const applied = await run('apply');
    expect(applied.code).toBe(EXIT_DRIFT);
    expect(applied.err).toEqual([`not applied: topic ${results} has 13 partitions, more than the 12 defined (partitions cannot shrink)`]);
    // The configuration was applied; only the partitions are left.
    expect((await run('check')).out).toEqual([`drift: topic ${results} has 13 partitions, more than the 12 defined (partitions cannot shrink)`, '1 difference(s) from the catalog']);
  }, 120_000);

  it('check exits 3 on a topic with fewer partitions; apply exits 3 unless allowed to add partitions', async () => {
    const drift = `${prefix}${Topics.drift}`;
    await admin.deleteTopics({ topics: [drift], timeout: 30_000 });
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: drift, numPartitions: 1, replicationFactor: 1 }] });
    const fewer = `topic ${drift} has 1 partitions, fewer than the 3 defined (rerun with --allow-partition-increase, see docs/runbook.md)`;
    const check = await run('check');
    expect(check.code).toBe(EXIT_DRIFT);
    expect(check.out).toEqual(expect.arrayContaining([`drift: ${fewer}`]));
    const refused = await run('apply');
    expect(refused.code).toBe(EXIT_DRIFT);
    expect(refused.err).toEqual(expect.arrayContaining([`not applied: ${fewer}`]));
    const grown = await run('apply', '--allow-partition-increase');
    // Only the partitions that cannot shrink (previous test) are left.
    expect({ code: grown.code, err: grown.err }).toEqual({ code: EXIT_DRIFT, err: [`not applied: topic ${prefix}${Topics.results} has 13 partitions, more than the 12 defined (partitions cannot shrink)`] });
    expect((await admin.fetchTopicMetadata({ topics: [drift] })).topics[0]!.partitions).toHaveLength(3);
  }, 120_000);
});
