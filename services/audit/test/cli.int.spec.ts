import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '@provisio/devstack';
import { KafkaJsBroker, withTopicPrefix } from '@provisio/messaging';
import { createTestDatabase, createTestRole, kafkaBrokers, uniqueTopicPrefix, type TestDatabase } from '@provisio/testing';
import pg from 'pg';
import { AuditQueries } from '../src/api/audit-queries.js';
import { ExportService } from '../src/api/export.service.js';
import { generateKeyPairSync } from 'node:crypto';
import { contentHash, type RecordContent } from '@provisio/audit-domain';
import { FeedPublisher } from '../src/siem/feed-publisher.js';
import { joinerRecords } from './records.js';
import { consumed, kek, logger, openStore, signer, signingKeyPem, type Store } from './store-harness.js';

/** The `provisio-audit` command from the build: verify (exit codes) and the offline export verifier. */
describe('provisio-audit CLI', () => {
  let db: TestDatabase;
  let store: Store;
  const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
  const cli = join(projectRoot(), 'services', 'audit', 'dist', 'cli.js');
  const pem = signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env } });

  beforeAll(async () => {
    db = await createTestDatabase('auditcli');
    store = await openStore(db.url);
    await store.repo.append(consumed(30));
    await store.chain.checkpoint();
    writeFileSync(join(dir, 'public.pem'), pem);
  }, 60_000);

  afterAll(async () => {
    await store?.db.close();
    await db?.drop();
  });

  it('verify-export: exit 0 for an intact export, 1 with the first bad position for a changed one, 2 for usage errors', async () => {
    const exporter = new ExportService(store.repo, store.chain, new AuditQueries(store.db, store.repo, store.keys));
    let text = '';
    for await (const chunk of exporter.lines(new Date(Date.now() - 3_600_000), new Date(Date.now() + 60_000))) text += chunk;
    writeFileSync(join(dir, 'export.jsonl'), text);
    const ok = run(['verify-export', join(dir, 'export.jsonl'), '--public-key', join(dir, 'public.pem')]);
    expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, tailCovered: true, recordsInRange: 30 });

    const lines = readFileSync(join(dir, 'export.jsonl'), 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"type":"record"') && l.includes('"seq":7,'));
    lines[i] = lines[i]!.replace('"partition":0', '"partition":1');
    writeFileSync(join(dir, 'tampered.jsonl'), lines.join('\n'));
    const bad = run(['verify-export', join(dir, 'tampered.jsonl'), '--public-key', join(dir, 'public.pem')]);
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, firstBadPosition: 7 });

    const otherKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'other.pem'), otherKey);
    expect(run(['verify-export', join(dir, 'export.jsonl'), '--public-key', join(dir, 'other.pem')]).status).toBe(1);
    const usage = run(['verify-export', join(dir, 'export.jsonl')]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--public-key/);
  });

  it('verify-export: a recorded range is proven complete, and a withheld record fails', async () => {
    const other = await createTestDatabase('auditcliexport');
    const s = await openStore(other.url);
    try {
      await s.repo.append(consumed(10));
      await new Promise((r) => setTimeout(r, 20));
      const from = new Date();
      await s.repo.append(consumed(10));
      const to = new Date();
      await new Promise((r) => setTimeout(r, 20));
      await s.repo.append(consumed(10));
      const exporter = new ExportService(s.repo, s.chain, new AuditQueries(s.db, s.repo, s.keys));
      let text = '';
      for await (const chunk of exporter.lines(from, to)) text += chunk;
      writeFileSync(join(dir, 'closed.jsonl'), text);
      const ok = run(['verify-export', join(dir, 'closed.jsonl'), '--public-key', join(dir, 'public.pem'), '--require-complete']);
      expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });
      expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, complete: true, recordsInRange: 10 });

      // Withhold record 15: replace it by the hash-only link line an honest export uses outside the range.
      const lines = text.split('\n').map((l) => {
        const e = l ? (JSON.parse(l) as { type: string; seq?: number; prevHash?: string; hash?: string; content?: RecordContent }) : null;
        if (e?.type !== 'record' || e.seq !== 15) return l;
        return JSON.stringify({ type: 'link', seq: e.seq, prevHash: e.prevHash, hash: e.hash, contentHash: contentHash(e.content!).toString('hex') });
      });
      writeFileSync(join(dir, 'withheld.jsonl'), lines.join('\n'));
      const bad = run(['verify-export', join(dir, 'withheld.jsonl'), '--public-key', join(dir, 'public.pem')]);
      expect(bad.status).toBe(1);
      expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, complete: false, firstBadPosition: 15, problems: [expect.objectContaining({ kind: 'incomplete' })] });

      // A range that reaches the end of the chain verifies, but is not proven complete.
      let open = '';
      for await (const chunk of exporter.lines(from, new Date(Date.now() + 60_000))) open += chunk;
      writeFileSync(join(dir, 'open.jsonl'), open);
      expect(JSON.parse(run(['verify-export', join(dir, 'open.jsonl'), '--public-key', join(dir, 'public.pem')]).stdout)).toMatchObject({ ok: true, complete: false });
      expect(run(['verify-export', join(dir, 'open.jsonl'), '--public-key', join(dir, 'public.pem'), '--require-complete']).status).toBe(1);
    } finally {
      await s.db.close();
      await other.drop();
    }
  });

  it('verify: reads the configuration like the service and exits 2 naming a bad variable', () => {
    const r = run(['verify'], { DATABASE_URL: db.url, AUDIT_SIGNING_KEY: 'not a key', AUDIT_PII_KEY: kek.toString('base64') });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/AUDIT_SIGNING_KEY: not a PEM private key/);
  });

  it('verify: exit 0 with a report of the whole chain for an intact store', () => {
    const r = run(['verify'], { DATABASE_URL: db.url, AUDIT_SIGNING_KEY: signingKeyPem, AUDIT_PII_KEY: kek.toString('base64') });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, firstBadPosition: null, records: 30, problems: [] });
  });

  it('verify: an auditor with public keys only and a read-only role (no signing key, no PII key): exit 0 intact, 1 tampered', async () => {
    const rdb = await createTestDatabase('auditcliro');
    const s = await openStore(rdb.url);
    const auditor = await createTestRole(rdb.url, 'audit_auditor');
    try {
      await s.repo.append(consumed(20));
      await s.chain.checkpoint();
      await s.repo.append(consumed(5));
      const su = new pg.Client({ connectionString: rdb.url });
      await su.connect();
      try {
        await su.query(`GRANT USAGE ON SCHEMA audit TO "${auditor.name}"`);
        await su.query(`GRANT SELECT ON ALL TABLES IN SCHEMA audit TO "${auditor.name}"`);
        // Nothing but the database URL of the read-only role and a public key.
        const withFile = run(['verify', '--public-key', join(dir, 'public.pem')], { DATABASE_URL: auditor.url });
        expect({ status: withFile.status, stderr: withFile.stderr }).toEqual({ status: 0, stderr: '' });
        expect(JSON.parse(withFile.stdout)).toMatchObject({ ok: true, records: 25, checkpoints: { verified: 1 } });
        const withEnv = run(['verify'], { DATABASE_URL: auditor.url, AUDIT_TRUSTED_KEYS: pem });
        expect({ status: withEnv.status, stderr: withEnv.stderr }).toEqual({ status: 0, stderr: '' });
        // Without any public key there is nothing to check signatures with.
        const noKey = run(['verify'], { DATABASE_URL: auditor.url });
        expect(noKey.status).toBe(2);
        expect(noKey.stderr).toMatch(/--public-key FILE \(PEM\) or AUDIT_TRUSTED_KEYS/);

        await su.query('SET session_replication_role = replica');
        await su.query(`UPDATE audit.records SET payload_json = jsonb_set(payload_json, '{kind}', '"LEAVER"') WHERE seq = 7`);
      } finally {
        await su.end();
      }
      const tampered = run(['verify', '--public-key', join(dir, 'public.pem')], { DATABASE_URL: auditor.url });
      expect({ status: tampered.status, stderr: tampered.stderr }).toEqual({ status: 1, stderr: '' });
      expect(JSON.parse(tampered.stdout)).toMatchObject({ ok: false, firstBadPosition: 7 });
    } finally {
      await s.db.close();
      await auditor.drop();
      await rdb.drop();
    }
  }, 60_000);

  it('verify --kafka-checkpoints: a tail cut from records, ledger and stored checkpoints is found only with the Kafka copy', async () => {
    const tdb = await createTestDatabase('auditclikafka');
    const prefix = uniqueTopicPrefix();
    const broker = withTopicPrefix(new KafkaJsBroker({ brokers: kafkaBrokers(), clientId: 'audit-cli-test', logger }), prefix);
    const s = await openStore(tdb.url);
    try {
      await broker.ensureTopics([{ topic: 'audit.checkpoints', partitions: 1 }, { topic: 'audit.siem', partitions: 1 }]);
      await s.repo.append(consumed(30));
      await s.chain.checkpoint();
      await s.repo.append(consumed(30));
      await s.chain.checkpoint();
      // The feed publishes both signed checkpoints (seq 30 and 60) to audit.checkpoints.
      const feed = new FeedPublisher(s.db, s.repo, s.chain, s.keys, broker, { formats: ['ocsf'], privilegeTargetKinds: new Set(), productVersion: 'test' }, logger);
      expect((await feed.publishOnce()).checkpoints).toBe(2);

      // A superuser removes the last 15 records, their ledger rows and the checkpoint that covered them.
      const c = new pg.Client({ connectionString: tdb.url });
      await c.connect();
      try {
        await c.query('SET session_replication_role = replica');
        await c.query('DELETE FROM audit.records WHERE seq > 45');
        await c.query('DELETE FROM audit.record_positions WHERE seq > 45');
        await c.query('DELETE FROM audit.checkpoints WHERE seq = 60');
      } finally {
        await c.end();
      }

      const env = { DATABASE_URL: tdb.url, AUDIT_SIGNING_KEY: signingKeyPem, AUDIT_PII_KEY: kek.toString('base64'), KAFKA_BROKERS: kafkaBrokers().join(','), KAFKA_TOPIC_PREFIX: prefix };
      const databaseOnly = run(['verify'], env);
      expect(databaseOnly.status).toBe(0); // what the database alone cannot tell (docs/audit.md)
      expect(JSON.parse(databaseOnly.stdout)).toMatchObject({ ok: true, records: 45 });

      const withKafka = run(['verify', '--kafka-checkpoints'], env);
      expect({ status: withKafka.status, stderr: withKafka.stderr }).toEqual({ status: 1, stderr: '' });
      const report = JSON.parse(withKafka.stdout) as { ok: boolean; firstBadPosition: number; problems: { kind: string; position: number }[] };
      expect(report).toMatchObject({ ok: false, firstBadPosition: 46 });
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'truncated', position: 46 }));

      const noBrokers = run(['verify', '--kafka-checkpoints'], { ...env, KAFKA_BROKERS: '' });
      expect(noBrokers.status).toBe(2);
      expect(noBrokers.stderr).toMatch(/--kafka-checkpoints needs KAFKA_BROKERS/);
    } finally {
      await broker.close();
      await s.db.close();
      await tdb.drop();
    }
  }, 90_000);

  it('exports by event time: records that happened in the range, wherever recorded, verify offline', async () => {
    // Two people whose facts happened ten days ago but are recorded now, among today's records.
    const tenDaysAgo = Date.now() - 10 * 86_400_000;
    const late = ['late-1', 'late-2'].flatMap((p, k) => {
      const d = joinerRecords(`${p}-${Date.now()}`, { base: tenDaysAgo });
      return [d.lifecycle, d.commandMessage].map((m, i) => ({ topic: 'hr.lifecycle', partition: 9, offset: String(100 * k + i), key: m.key, headers: m.headers, envelope: {}, value: m.value, timestamp: Date.now() }));
    });
    await store.repo.append(consumed(6));
    await store.repo.append(late);
    await store.repo.append(consumed(6));
    const exporter = new ExportService(store.repo, store.chain, new AuditQueries(store.db, store.repo, store.keys));
    const read = async (by: 'event' | 'recorded') => {
      let text = '';
      for await (const chunk of exporter.lines(new Date(tenDaysAgo - 60_000), new Date(tenDaysAgo + 60_000), by)) text += chunk;
      return text;
    };
    const byEvent = await read('event');
    const records = byEvent.split('\n').filter((l) => l.includes('"type":"record"'));
    expect(records).toHaveLength(4);
    expect(byEvent.split('\n').filter((l) => l.includes('"type":"link"')).length).toBeGreaterThan(0); // today's records in between
    writeFileSync(join(dir, 'by-event.jsonl'), byEvent);
    const ok = run(['verify-export', join(dir, 'by-event.jsonl'), '--public-key', join(dir, 'public.pem')]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, tailCovered: true, recordsInRange: 4, selection: 'event' });
    // Nothing was recorded ten days ago.
    expect((await read('recorded')).split('\n').filter((l) => l.includes('"type":"record"'))).toHaveLength(0);
  });
});
