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
  /** The shred generation read before the key was: valid only while it is still current. */
  generation: string;
}

/**
 * Per-person data keys, wrapped with the key-encryption key (AUDIT_PII_KEY). One active key per
 * person; shredding removes the wrapped key for good, which makes that person's sealed fields
 * unreadable. Keys are cached, but every use of the cache (a consumed batch, an API request)
 * first reads the shred generation, which each shredding bumps in its own statement: a shred
 * committed on any replica empties every replica's cache before its next use.
 */
export class PersonKeyStore {
  private readonly table: string;
  private readonly generationTable: string;
  private readonly byPerson = new Map<string, CacheEntry>();
  private readonly byKeyId = new Map<string, CacheEntry>();
  readonly kekId: string;
  // Built once: a KeyObject per cipher call is what makes node:crypto slow.
  private readonly kek: KeyObject;

  constructor(
    schema: string,
    kek: Buffer,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 100_000,
  ) {
    this.table = `${quoteIdent(schema)}.person_keys`;
    this.generationTable = `${quoteIdent(schema)}.key_generation`;
    this.kekId = createHash('sha256').update(kek).digest('hex').slice(0, 16);
    this.kek = dataKeyObject(kek);
  }

  /** Active keys of these people, created for those who have none yet. */
  async activeKeys(sql: SqlClient, personIds: string[]): Promise<Map<string, PersonKey>> {
    const generation = await this.currentGeneration(sql);
    const out = new Map<string, PersonKey>();
    const now = Date.now();
    const missing: string[] = [];
    for (const p of new Set(personIds)) {
      const c = this.byPerson.get(p);
      if (c?.value && c.generation === generation && now - c.at < this.ttlMs) out.set(p, c.value);
      else missing.push(p);
    }
    if (missing.length === 0) return out;
    const load = async (ids: string[]) => {
      const r = await sql.query<{ key_id: string; person_id: string; wrapped_key: Buffer }>(
        `SELECT key_id, person_id, wrapped_key FROM ${this.table} WHERE person_id = ANY($1::text[]) AND shredded_at IS NULL`,
        [ids],
      );
      for (const row of r.rows) this.remember(out, row.person_id, { keyId: row.key_id, key: dataKeyObject(unwrapDataKey(this.kek, row.wrapped_key, row.person_id, row.key_id)) }, generation);
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
      for (const row of r.rows) this.remember(out, row.person_id, { keyId: row.key_id, key: dataKeyObject(byKeyId.get(row.key_id)!) }, generation);
      // Another replica won the race for the rest: read back whatever is active now.
      const lost = create.filter((p) => !out.has(p));
      if (lost.length > 0) await load(lost);
    }
    return out;
  }

  /** A key by id, for reading; null when it was shredded. */
  async keyById(sql: SqlClient, keyIds: string[]): Promise<Map<string, KeyObject | null>> {
    const out = new Map<string, KeyObject | null>();
    if (keyIds.length === 0) return out;
    const generation = await this.currentGeneration(sql);
    const now = Date.now();
    const missing: string[] = [];
    for (const k of new Set(keyIds)) {
      const c = this.byKeyId.get(k);
      if (c && c.generation === generation && now - c.at < this.ttlMs) out.set(k, c.value?.key ?? null);
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
        this.cache(this.byKeyId, row.key_id, key ? { keyId: row.key_id, key } : null, generation);
      }
    }
    return out;
  }

  /**
   * The shred generation, read before any key is: a cached key is used only while the generation
   * it was loaded under is still the current one (a shred on any replica invalidates them all).
   */
  private async currentGeneration(sql: SqlClient): Promise<string> {
    const r = await sql.query<{ generation: string }>(`SELECT generation FROM ${this.generationTable}`);
    return r.rows[0]?.generation ?? '0';
  }

  /** Crypto-shredding: the person's keys are destroyed and the shred generation bumped, atomically; returns how many. */
  async shred(sql: SqlClient, personId: string, by: string): Promise<number> {
    const r = await sql.query<{ key_id: string }>(
      `WITH shredded AS (
         UPDATE ${this.table} SET wrapped_key = NULL, shredded_at = now(), shredded_by = $2 WHERE person_id = $1 AND shredded_at IS NULL RETURNING key_id
       ), bumped AS (UPDATE ${this.generationTable} SET generation = generation + 1 RETURNING generation)
       SELECT key_id FROM shredded, bumped`,
      [personId, by],
    );
    this.byPerson.delete(personId);
    for (const row of r.rows) this.byKeyId.delete(row.key_id);
    return r.rowCount ?? 0;
  }

  private remember(out: Map<string, PersonKey>, personId: string, key: PersonKey, generation: string): void {
    out.set(personId, key);
    this.cache(this.byPerson, personId, key, generation);
    this.cache(this.byKeyId, key.keyId, key, generation);
  }

  private cache(m: Map<string, CacheEntry>, k: string, value: PersonKey | null, generation: string): void {
    if (m.size >= this.maxEntries) {
      const oldest = m.keys().next().value;
      if (oldest !== undefined) m.delete(oldest);
    }
    m.delete(k);
    m.set(k, { value, at: Date.now(), generation });
  }
}
