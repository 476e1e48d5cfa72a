import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { checkpointSigner, trustedKeys, type CheckpointSigner, type TrustedKeys } from '@provisio/audit-domain';
import type { ConsumedMessage } from '@provisio/messaging';
import { Database } from '@provisio/persistence';
import pino from 'pino';
import { AUDIT_MIGRATIONS } from '../src/app.module.js';
import { ChainService } from '../src/chain/chain.service.js';
import { PersonKeyStore } from '../src/store/person-keys.repository.js';
import { RecordRepository } from '../src/store/record.repository.js';
import { joinerRecords } from './records.js';

export const logger = pino({ level: 'silent' });
const signingKey = generateKeyPairSync('ed25519').privateKey;
/** The checkpoint signing key as the service and the CLI read it (AUDIT_SIGNING_KEY). */
export const signingKeyPem = signingKey.export({ type: 'pkcs8', format: 'pem' }).toString();
export const signer: CheckpointSigner = checkpointSigner(signingKey);
export const trusted: TrustedKeys = trustedKeys([signer.publicKey]);
export const kek = randomBytes(32);

export interface Store {
  db: Database;
  repo: RecordRepository;
  chain: ChainService;
  keys: PersonKeyStore;
}

/** The audit store on a database, without Nest or Kafka (for tamper and retention tests). */
export async function openStore(url: string, o: { migrate?: boolean; clock?: () => number; checkpointPageSize?: number } = {}): Promise<Store> {
  const db = await Database.open({ url, schema: 'audit', applicationName: 'audit-test', migrations: AUDIT_MIGRATIONS, migrate: o.migrate ?? true, poolMax: 3 });
  const keys = new PersonKeyStore('audit', kek);
  const repo = new RecordRepository(db, 'audit', keys, trusted, o.clock);
  return { db, repo, keys, chain: new ChainService(db, repo, signer, trusted, logger, 'full', o.checkpointPageSize === undefined ? {} : { checkpointPageSize: o.checkpointPageSize }) };
}

let people = 0;
/** The next offset per topic (partition 0): as in Kafka, each partition's offsets follow one another. */
const offsets = new Map<string, number>();
/** `n` consumed messages (lifecycle, command, result of n/3 people), each topic's on the offsets after its previous ones. */
export function consumed(n: number, topicPrefix = ''): ConsumedMessage<Buffer | null>[] {
  const out: ConsumedMessage<Buffer | null>[] = [];
  while (out.length < n) {
    const d = joinerRecords(`person-${people++}-${randomBytes(3).toString('hex')}`);
    for (const [name, m] of [['hr.lifecycle', d.lifecycle], ['provisioning.commands.ldap', d.commandMessage], ['provisioning.results', d.resultMessage]] as const) {
      if (out.length >= n) break;
      const topic = `${topicPrefix}${name}`;
      const offset = offsets.get(topic) ?? 0;
      offsets.set(topic, offset + 1);
      out.push({ topic, partition: 0, offset: String(offset), key: m.key, headers: m.headers, envelope: { id: m.headers.ce_id, type: m.headers.ce_type, time: m.headers.ce_time }, value: m.value, timestamp: Date.now() });
    }
  }
  return out;
}
