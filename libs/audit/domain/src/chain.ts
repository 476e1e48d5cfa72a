import { createHash, hash as digestOf } from 'node:crypto';
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

/** Canonical text of one member of a content: scalars directly, objects through canonicalJson. */
function memberText(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`canonical JSON has no representation for ${v}`);
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return canonicalJson(v);
  }
}

/**
 * `canonicalJson(content)`, reusing canonical texts already computed for its members: the same
 * text, without serializing the decoded value twice (scalar members are written directly).
 */
export function canonicalContent(content: RecordContent, parts: CanonicalParts = {}): string {
  const c = content as unknown as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of Object.keys(c).sort()) {
    const v = c[k];
    if (v === undefined) continue;
    const text = k === 'json' && parts.json !== undefined ? parts.json : k === 'headers' && parts.headers !== undefined ? parts.headers : memberText(v);
    out += `${first ? '' : ','}${JSON.stringify(k)}:${text}`;
    first = false;
  }
  return `${out}}`;
}

const RECORD_PREFIX_TEXT = RECORD_PREFIX.toString('utf8');

// One-shot digests (`crypto.hash`): no Hash object per record for the garbage collector.
export function contentHash(content: RecordContent, parts?: CanonicalParts): Buffer {
  return digestOf('sha256', RECORD_PREFIX_TEXT + canonicalContent(content, parts), 'buffer');
}

// prefix ‖ uint64be(n) ‖ hash(n-1) ‖ contentHash(n), assembled in one buffer (one hash update).
const LINK_INPUT = Buffer.alloc(CHAIN_PREFIX.length + 8 + 2 * HASH_BYTES);
CHAIN_PREFIX.copy(LINK_INPUT, 0);
const TWO_32 = 4_294_967_296;

export function linkHash(seq: number, prevHash: Buffer, content: Buffer): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`chain position must be a positive safe integer, got ${seq}`);
  if (prevHash.length !== HASH_BYTES || content.length !== HASH_BYTES) {
    // Only well-formed hashes take the fixed layout; anything else is hashed as given.
    const pos = Buffer.alloc(8);
    pos.writeBigUInt64BE(BigInt(seq));
    return createHash('sha256').update(CHAIN_PREFIX).update(pos).update(prevHash).update(content).digest();
  }
  let p = CHAIN_PREFIX.length;
  const high = Math.floor(seq / TWO_32);
  LINK_INPUT.writeUInt32BE(high, p);
  LINK_INPUT.writeUInt32BE(seq - high * TWO_32, p + 4);
  p += 8;
  prevHash.copy(LINK_INPUT, p);
  content.copy(LINK_INPUT, p + HASH_BYTES);
  return digestOf('sha256', LINK_INPUT, 'buffer');
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
