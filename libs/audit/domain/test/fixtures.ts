import { generateKeyPairSync } from 'node:crypto';
import { checkpointSigner, extendChain, genesisHash, type ChainedRecord, type RecordContent, type SignedCheckpoint, trustedKeys, deriveIndex, type RecordIndex } from '../src/index.js';

export const CHAIN_ID = '6f1c3c7e-3d1e-4b8e-9a51-1d8f0c2b7a10';

export function content(i: number, over: Partial<RecordContent> = {}): RecordContent {
  return {
    topic: i % 3 === 0 ? 'hr.lifecycle' : i % 3 === 1 ? 'provisioning.commands.ldap' : 'provisioning.results',
    partition: i % 3,
    offset: String(i),
    key: `person-${i % 7}`,
    timestamp: 1_700_000_000_000 + i,
    recordedAt: 1_700_000_000_500 + i,
    headers: { ce_id: `ce-${i}`, ce_type: 'dev.provisio.test', ce_time: new Date(1_700_000_000_000 + i).toISOString(), traceparent: `00-${'a'.repeat(31)}${i % 10}-${'b'.repeat(16)}-01` },
    payload: Buffer.from(`payload ${i}`).toString('base64'),
    keyId: null,
    json: { eventId: `ev-${i}`, personId: `person-${i % 7}`, n: i, nested: { list: [i, 'x', null, true] } },
    schema: null,
    decodeError: null,
    ...over,
  };
}

export interface Row extends ChainedRecord {
  content: RecordContent;
  index: RecordIndex;
}

export function buildChain(n: number): Row[] {
  const contents = Array.from({ length: n }, (_, i) => content(i + 1));
  return extendChain({ seq: 0, hash: genesisHash(CHAIN_ID) }, contents).map((c, i) => ({ ...c, content: contents[i]!, index: deriveIndex(contents[i]!) }));
}

const { privateKey } = generateKeyPairSync('ed25519');
export const signer = checkpointSigner(privateKey);
export const keys = trustedKeys([signer.publicKey]);

export function checkpointAt(rows: Row[], seq: number, previous: SignedCheckpoint | null = null): SignedCheckpoint {
  const row = rows.find((r) => r.seq === seq)!;
  return signer.sign({
    chainId: CHAIN_ID,
    kind: 'periodic',
    seq,
    hash: row.hash.toString('hex'),
    recordedAt: row.content.recordedAt,
    issuedAt: 1_700_000_100_000,
    previous: previous ? { seq: previous.statement.seq, hash: previous.statement.hash } : null,
  });
}
