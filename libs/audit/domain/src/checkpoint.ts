import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export type CheckpointKind = 'periodic' | 'anchor';

/**
 * A signed statement "the chain `chainId` had hash `hash` at position `seq`". Periodic ones are
 * taken every few seconds; an anchor is taken when retention drops the records up to `seq`, and
 * verification of what remains starts from it.
 */
export interface CheckpointStatement {
  v: 1;
  chainId: string;
  kind: CheckpointKind;
  seq: number;
  /** Hex SHA-256 chain hash at `seq`. */
  hash: string;
  /** recordedAt of the record at `seq` (0 for the genesis position). */
  recordedAt: number;
  issuedAt: number;
  /** The checkpoint this one follows, so a missing checkpoint is noticed. */
  previous: { seq: number; hash: string } | null;
  /** Hex SHA-256 of the signing key's SubjectPublicKeyInfo (DER), first 16 bytes. */
  keyId: string;
  /**
   * Anchors only: the access state retention carried forward past the records it dropped (each
   * account's last applied state, commands still awaiting a result), as counts and a SHA-256
   * digest of those rows, so a change to them shows in verification.
   */
  baseline?: { accounts: number; pendingCommands: number; digest: string };
}

export interface SignedCheckpoint {
  statement: CheckpointStatement;
  /** Base64 Ed25519 signature over `checkpointSigningInput(statement)`. */
  signature: string;
}

const PREFIX = 'provisio.audit.checkpoint.v1\n';

export function checkpointSigningInput(s: CheckpointStatement): Buffer {
  return Buffer.from(PREFIX + canonicalJson(s), 'utf8');
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

export interface CheckpointSigner {
  keyId: string;
  publicKey: KeyObject;
  sign(statement: Omit<CheckpointStatement, 'keyId' | 'v'>): SignedCheckpoint;
}

/** An Ed25519 signer from a private key; throws a clear error for any other key type. */
export function checkpointSigner(privateKey: KeyObject): CheckpointSigner {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`checkpoint signing key must be an Ed25519 private key, got ${privateKey.type} ${privateKey.asymmetricKeyType ?? 'key'}`);
  }
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  return {
    keyId,
    publicKey,
    sign(partial) {
      const statement: CheckpointStatement = { v: 1, ...partial, keyId };
      return { statement, signature: sign(null, checkpointSigningInput(statement), privateKey).toString('base64') };
    },
  };
}

export type TrustedKeys = ReadonlyMap<string, KeyObject>;

export function trustedKeys(publicKeys: KeyObject[]): TrustedKeys {
  const out = new Map<string, KeyObject>();
  for (const k of publicKeys) {
    if (k.asymmetricKeyType !== 'ed25519') throw new TypeError(`trusted checkpoint keys must be Ed25519 public keys, got ${k.asymmetricKeyType ?? 'unknown'}`);
    out.set(keyIdOf(k.type === 'private' ? createPublicKey(k) : k), k.type === 'private' ? createPublicKey(k) : k);
  }
  return out;
}

/** Null when the signature is valid and the key trusted, else why not. */
export function checkpointSignatureProblem(c: SignedCheckpoint, keys: TrustedKeys): string | null {
  const key = keys.get(c.statement.keyId);
  if (!key) return `signed by unknown key ${c.statement.keyId}`;
  let ok = false;
  try {
    ok = verify(null, checkpointSigningInput(c.statement), key, Buffer.from(c.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? null : 'signature does not match the statement';
}

/**
 * Null when `c` is a genuine retention anchor of chain `chainId`: its signed statement says
 * kind 'anchor' and the signature verifies with a trusted key. Else why it is not one (a copied
 * periodic checkpoint, an unsigned or forged row).
 */
export function anchorProblem(c: SignedCheckpoint, chainId: string, keys: TrustedKeys): string | null {
  if (c.statement.kind !== 'anchor') return `its signed statement is a ${String(c.statement.kind)} checkpoint, not an anchor`;
  if (c.statement.chainId !== chainId) return `it belongs to chain ${c.statement.chainId}, not ${chainId}`;
  return checkpointSignatureProblem(c, keys);
}
