import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { RecordContent } from './record.js';

/**
 * The hash chain. One global chain per store: position n links the hash of position n-1 with the
 * hash of record n's content.
 *
 *   contentHash(n) = SHA-256("provisio.audit.record.v1\n" ‖ canonicalJson(content n))
 *   hash(n)        = SHA-256("provisio.audit.chain.v1" ‖ uint64be(n) ‖ hash(n-1) ‖ contentHash(n))
 *   hash(0)        = SHA-256("provisio.audit.genesis.v1\n" ‖ chainId)
 *
 * Two levels let an export reveal only the content hash of records outside the requested range
 * and still be verified against signed checkpoints.
 */
export const HASH_BYTES = 32;

const RECORD_PREFIX = Buffer.from('provisio.audit.record.v1\n', 'utf8');
const CHAIN_PREFIX = Buffer.from('provisio.audit.chain.v1', 'utf8');

export function genesisHash(chainId: string): Buffer {
  return createHash('sha256').update(`provisio.audit.genesis.v1\n${chainId}`, 'utf8').digest();
}

/** Canonical JSON texts of a content's large members, computed once and reused (hash, insert). */
export interface CanonicalParts {
  json?: string;
  headers?: string;
}

/**
 * `canonicalJson(content)`, reusing canonical texts already computed for its members: the same
 * text, without serializing the decoded value twice.
 */
export function canonicalContent(content: RecordContent, parts: CanonicalParts = {}): string {
  const c = content as unknown as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of Object.keys(c).sort()) {
    const v = c[k];
    if (v === undefined) continue;
    const text = k === 'json' && parts.json !== undefined ? parts.json : k === 'headers' && parts.headers !== undefined ? parts.headers : canonicalJson(v);
    out += `${first ? '' : ','}${JSON.stringify(k)}:${text}`;
    first = false;
  }
  return `${out}}`;
}

export function contentHash(content: RecordContent, parts?: CanonicalParts): Buffer {
  return createHash('sha256').update(RECORD_PREFIX).update(parts ? canonicalContent(content, parts) : canonicalJson(content), 'utf8').digest();
}

export function linkHash(seq: number, prevHash: Buffer, content: Buffer): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`chain position must be a positive safe integer, got ${seq}`);
  const pos = Buffer.alloc(8);
  pos.writeBigUInt64BE(BigInt(seq));
  return createHash('sha256').update(CHAIN_PREFIX).update(pos).update(prevHash).update(content).digest();
}

export interface ChainHead {
  seq: number;
  hash: Buffer;
}

export interface ChainedRecord {
  seq: number;
  prevHash: Buffer;
  hash: Buffer;
}

/** Appends contents after `head`, returning each one's position and hashes. */
export function extendChain(head: ChainHead, contents: RecordContent[]): ChainedRecord[] {
  let prev = head.hash;
  return contents.map((c, i) => {
    const seq = head.seq + i + 1;
    const hash = linkHash(seq, prev, contentHash(c));
    const out = { seq, prevHash: prev, hash };
    prev = hash;
    return out;
  });
}
