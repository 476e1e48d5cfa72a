import { randomUUID, createHash } from 'node:crypto';
import { dataKeyObject, newDataKey, unwrapDataKey, wrapDataKey } from '@provisio/audit-domain';
import type { KeyObject } from 'node:crypto';
import { quoteIdent, type SqlClient } from '@provisio/persistence';

export interface PersonKey {
  keyId: string;
  key: KeyObject;
}

interface CacheEntry {
  value: PersonKey | null;
  at: number;
}

/**
 * Per-person data keys, wrapped with the key-encryption key (AUDIT_PII_KEY). One active key per
 * person; shredding removes the wrapped key for good, which makes that person's sealed fields
 * unreadable. Keys are cached briefly (other replicas see a shred within `ttlMs`).
 */
export class PersonKeyStore {
  private readonly table: string;
  private readonly byPerson = new Map<string, CacheEntry>();
  private readonly byKeyId = new Map<string, CacheEntry>();
  readonly kekId: string;

  constructor(
    schema: string,
    private readonly kek: Buffer,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 100_000,
  ) {
    this.table = `${quoteIdent(schema)}.person_keys`;
    this.kekId = createHash('sha256').update(kek).digest('hex').slice(0, 16);
  }

  /** Active keys of these people, created for those who have none yet. */
  async activeKeys(sql: SqlClient, personIds: string[]): Promise<Map<string, PersonKey>> {
    const out = new Map<string, PersonKey>();
    const now = Date.now();
    const missing: string[] = [];
    for (const p of new Set(personIds)) {
      const c = this.byPerson.get(p);
      if (c?.value && now - c.at < this.ttlMs) out.set(p, c.value);
      else missing.push(p);
    }
    if (missing.length === 0) return out;
    const load = async (ids: string[]) => {
      const r = await sql.query<{ key_id: string; person_id: string; wrapped_key: Buffer }>(
        `SELECT key_id, person_id, wrapped_key FROM ${this.table} WHERE person_id = ANY($1::text[]) AND shredded_at IS NULL`,
        [ids],
      );
      for (const row of r.rows) this.remember(out, row.person_id, { keyId: row.key_id, key: dataKeyObject(unwrapDataKey(this.kek, row.wrapped_key, row.person_id, row.key_id)) });
    };
    await load(missing);
    const create = missing.filter((p) => !out.has(p));
    if (create.length > 0) {
      const keyIds = create.map(() => randomUUID());
      const dataKeys = create.map(() => newDataKey());
      const wrapped = create.map((p, i) => wrapDataKey(this.kek, dataKeys[i]!, p, keyIds[i]!));
      const r = await sql.query<{ person_id: string; key_id: string }>(
        `INSERT INTO ${this.table} (key_id, person_id, wrapped_key, kek_id)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], array_fill($4::text, ARRAY[cardinality($1::uuid[])]))
         ON CONFLICT (person_id) WHERE shredded_at IS NULL DO NOTHING RETURNING person_id, key_id`,
        [keyIds, create, wrapped, this.kekId],
      );
      const byKeyId = new Map<string, Buffer>(keyIds.map((k, i) => [k, dataKeys[i]!]));
      for (const row of r.rows) this.remember(out, row.person_id, { keyId: row.key_id, key: dataKeyObject(byKeyId.get(row.key_id)!) });
      // Another replica won the race for the rest: read back whatever is active now.
      const lost = create.filter((p) => !out.has(p));
      if (lost.length > 0) await load(lost);
    }
    return out;
  }

  /** A key by id, for reading; null when it was shredded. */
  async keyById(sql: SqlClient, keyIds: string[]): Promise<Map<string, KeyObject | null>> {
    const out = new Map<string, KeyObject | null>();
    const now = Date.now();
    const missing: string[] = [];
    for (const k of new Set(keyIds)) {
      const c = this.byKeyId.get(k);
      if (c && now - c.at < this.ttlMs) out.set(k, c.value?.key ?? null);
      else missing.push(k);
    }
    if (missing.length > 0) {
      const r = await sql.query<{ key_id: string; person_id: string; wrapped_key: Buffer | null }>(
        `SELECT key_id, person_id, wrapped_key FROM ${this.table} WHERE key_id = ANY($1::uuid[])`,
        [missing],
      );
      for (const k of missing) out.set(k, null);
      for (const row of r.rows) {
        const key = row.wrapped_key ? dataKeyObject(unwrapDataKey(this.kek, row.wrapped_key, row.person_id, row.key_id)) : null;
        out.set(row.key_id, key);
        this.cache(this.byKeyId, row.key_id, key ? { keyId: row.key_id, key } : null);
      }
    }
    return out;
  }

  /** Crypto-shredding: the person's keys are destroyed; returns how many. */
  async shred(sql: SqlClient, personId: string, by: string): Promise<number> {
    const r = await sql.query<{ key_id: string }>(
      `UPDATE ${this.table} SET wrapped_key = NULL, shredded_at = now(), shredded_by = $2 WHERE person_id = $1 AND shredded_at IS NULL RETURNING key_id`,
      [personId, by],
    );
    this.byPerson.delete(personId);
    for (const row of r.rows) this.byKeyId.delete(row.key_id);
    return r.rowCount ?? 0;
  }

  private remember(out: Map<string, PersonKey>, personId: string, key: PersonKey): void {
    out.set(personId, key);
    this.cache(this.byPerson, personId, key);
    this.cache(this.byKeyId, key.keyId, key);
  }

  private cache(m: Map<string, CacheEntry>, k: string, value: PersonKey | null): void {
    if (m.size >= this.maxEntries) {
      const oldest = m.keys().next().value;
      if (oldest !== undefined) m.delete(oldest);
    }
    m.delete(k);
    m.set(k, { value, at: Date.now() });
  }
}
