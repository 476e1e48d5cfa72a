import { Inject, Injectable } from '@nestjs/common';
import { describeErrors, futureSourceTime, viewOf, workerIdSchema, type WorkerRecord } from '@provisio/hr-ingest-domain';
import {
  ScimError,
  applyPatch,
  etagOf,
  invalidValue,
  parsePatchRequest,
  parseScimFilter,
  patchedWorker,
  personToScimUser,
  scimUserToWorker,
  URN,
  type BulkOperation,
  type ScimWorker,
} from '@provisio/hr-ingest-scim';
import { Database, quoteIdent, type SqlClient } from '@provisio/persistence';
import { randomUUID } from 'node:crypto';
import type { HrIngestSettings } from '../config.js';
import type { LifecycleWriter, RecordOutcome } from '../persons/lifecycle-writer.js';
import type { PersonRepository, StoredPerson } from '../persons/person.repository.js';
import { PERSONS, SETTINGS, WRITER } from '../tokens.js';
import { filterToSql } from './scim-filter.sql.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ScimResult {
  status: number;
  resource?: Record<string, unknown>;
  person?: StoredPerson;
}

export interface BulkOperationResult {
  method: string;
  bulkId?: string;
  location?: string;
  version?: string;
  status: string;
  response?: Record<string, unknown>;
}

/**
 * SCIM 2.0 Users over hr-ingest's person records. The SCIM resource id is the personId; the
 * worker id is externalId. Every write is a worker change through the same differ as the other
 * inputs. A deleted User is a leaver whose record is kept (a later create of the same externalId
 * is a rehire with the same personId) and reads as 404.
 */
@Injectable()
export class ScimUsersService {
  private readonly source: string;
  private readonly table: string;

  constructor(
    private readonly db: Database,
    @Inject(PERSONS) private readonly persons: PersonRepository,
    @Inject(WRITER) private readonly writer: LifecycleWriter,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
  ) {
    this.source = settings.SCIM_SOURCE;
    this.table = `${quoteIdent(settings.DATABASE_SCHEMA)}.persons`;
  }

  private readonly opts = () => ({ attributeMap: this.settings.scimAttributeMap });

  render(p: StoredPerson, base: string): Record<string, unknown> {
    return personToScimUser(
      {
        personId: p.personId,
        workerId: p.workerId,
        version: p.version,
        attributes: viewOf(p.attributes, p.phase),
        active: p.phase !== 'terminated',
        createdAt: p.createdAt,
        updatedAt: p.updatedAt,
        // A self-reference (top of the hierarchy) is no manager.
        manager: p.managerWorkerId !== null && p.managerWorkerId !== p.workerId ? { externalId: p.managerWorkerId, resolved: p.attributes.managerPersonId !== null } : undefined,
      },
      `${base}/Users/${p.personId}`,
    );
  }

  private visible(p: StoredPerson | undefined): p is StoredPerson {
    return !!p && p.source === this.source && p.removal?.by !== 'scim-delete';
  }

  private async find(sql: SqlClient, id: string, lock: boolean): Promise<StoredPerson> {
    const p = UUID.test(id) ? await (lock ? this.persons.lockById(sql, id) : this.persons.findById(sql, id)) : undefined;
    if (!this.visible(p)) throw new ScimError(404, undefined, `no User ${id}`);
    return p;
  }

  private checkVersion(p: StoredPerson, ifMatch: string | undefined): void {
    if (!ifMatch || ifMatch.trim() === '*') return;
    const wanted = ifMatch.split(',').map((t) => t.trim());
    if (!wanted.includes(etagOf(p.version)) && !wanted.includes(`"${p.version}"`)) {
      throw new ScimError(412, undefined, `the User changed: its version is ${etagOf(p.version)}, not ${ifMatch}`);
    }
  }

  /** A manager reference → the manager's worker id in the SCIM source (the differ resolves it). */
  private async managerWorkerId(sql: SqlClient, ref: string | null | undefined, bulkIds?: ReadonlyMap<string, string>): Promise<string | null | undefined> {
    if (ref === undefined || ref === null) return ref;
    if (ref.startsWith('bulkId:')) {
      const w = bulkIds?.get(ref.slice(7));
      if (!w) throw invalidValue(`${'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'}:manager.value: ${ref} names no POST with an externalId in this request`);
      return w;
    }
    if (UUID.test(ref)) {
      const m = await this.persons.findById(sql, ref);
      if (m) {
        if (m.source !== this.source) throw invalidValue(`manager.value: ${ref} is a person of another source; a manager must be a User of this endpoint`);
        return m.workerId;
      }
    }
    const r = workerIdSchema.safeParse(ref);
    if (!r.success) throw invalidValue(`manager.value: ${JSON.stringify(ref)} is neither a User id nor a worker id (externalId)`);
    return r.data;
  }

  private record(workerId: string, w: ScimWorker, managerWorkerId: string | null | undefined): WorkerRecord {
    const future = futureSourceTime(w.sourceTimestamp, `${URN.hr}:sourceTimestamp`, Date.now(), this.settings.HR_MAX_CLOCK_SKEW);
    if (future) throw invalidValue(`${future.field}: ${future.value} is in the future (rule ${future.rule}): ${future.message}`);
    const record: WorkerRecord = { source: this.source, workerId, attributes: w.attributes };
    if (managerWorkerId !== undefined) record.managerWorkerId = managerWorkerId;
    if (w.sourceTimestamp !== undefined) record.sourceTimestamp = w.sourceTimestamp;
    if (w.sequence !== undefined) record.sequence = w.sequence;
    return record;
  }

  private failed(o: RecordOutcome | undefined): ScimError | undefined {
    if (!o) return new ScimError(500, undefined, 'no outcome');
    if (o.status === 'stale') return new ScimError(409, undefined, `stale: ${describeErrors(o.errors)}`);
    if (o.status === 'rejected') return new ScimError(409, 'uniqueness', describeErrors(o.errors));
    return undefined;
  }

  async create(body: unknown, base: string): Promise<ScimResult> {
    const w = scimUserToWorker(body, this.opts());
    if (!w.workerId) throw invalidValue('externalId: required; it is the worker id in the HR source');
    const workerId = w.workerId;
    return this.db.transaction(async (tx) => {
      const existing = (await this.persons.lockByWorkerIds(tx.sql, this.source, [workerId])).get(workerId);
      if (this.visible(existing)) throw new ScimError(409, 'uniqueness', `a User with externalId ${workerId} exists: ${existing.personId}`);
      const [o] = await this.writer.applyRecords(tx.sql, this.source, [this.record(workerId, w, await this.managerWorkerId(tx.sql, w.manager))], { channel: 'SCIM' });
      const err = this.failed(o);
      if (err) throw err;
      const p = (await this.persons.findById(tx.sql, o!.personId!))!;
      return { status: 201, resource: this.render(p, base), person: p };
    });
  }

  async replace(id: string, body: unknown, base: string, ifMatch?: string): Promise<ScimResult> {
    const w = scimUserToWorker(body, this.opts());
    return this.db.transaction(async (tx) => {
      const current = await this.find(tx.sql, id, true);
      this.checkVersion(current, ifMatch);
      if (w.workerId !== undefined && w.workerId !== current.workerId) throw new ScimError(400, 'mutability', `externalId is immutable (${current.workerId})`);
      const [o] = await this.writer.applyRecords(tx.sql, this.source, [this.record(current.workerId, w, await this.managerWorkerId(tx.sql, w.manager))], { channel: 'SCIM' });
      const err = this.failed(o);
      if (err) throw err;
      const p = (await this.persons.findById(tx.sql, current.personId))!;
      return { status: 200, resource: this.render(p, base), person: p };
    });
  }

  async patch(id: string, body: unknown, base: string, ifMatch?: string): Promise<ScimResult> {
    const ops = parsePatchRequest(body);
    return this.db.transaction(async (tx) => {
      const current = await this.find(tx.sql, id, true);
      this.checkVersion(current, ifMatch);
      const before = this.render(current, base);
      const w = patchedWorker(before, applyPatch(before, ops), this.opts());
      if (w.workerId !== current.workerId) throw new ScimError(400, 'mutability', `externalId is immutable (${current.workerId})`);
      const [o] = await this.writer.applyRecords(tx.sql, this.source, [this.record(current.workerId, w, await this.managerWorkerId(tx.sql, w.manager))], { channel: 'SCIM' });
      const err = this.failed(o);
      if (err) throw err;
      const p = (await this.persons.findById(tx.sql, current.personId))!;
      return { status: 200, resource: this.render(p, base), person: p };
    });
  }

  async remove(id: string, ifMatch?: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const current = await this.find(tx.sql, id, true);
      this.checkVersion(current, ifMatch);
      await this.writer.applyChange(tx.sql, [current], { type: 'delete' }, { channel: 'SCIM' });
      // The record stays (audit, rehire with the same personId); SCIM reads it as deleted. A
      // person who had left already is marked without a second leaver.
      const after = await this.persons.findById(tx.sql, current.personId);
      if (after && after.removal?.by !== 'scim-delete') {
        await tx.sql.query(`UPDATE ${this.table} SET removal = $2, version = version + 1, updated_at = now() WHERE person_id = $1`, [
          current.personId,
          JSON.stringify({ at: Date.now(), by: 'scim-delete' }),
        ]);
      }
    });
  }

  async get(id: string, base: string): Promise<ScimResult> {
    const p = await this.find(this.db.sql, id, false);
    return { status: 200, resource: this.render(p, base), person: p };
  }

  async list(q: { filter?: string | undefined; startIndex?: string | undefined; count?: string | undefined }, base: string) {
    const params: unknown[] = [this.source];
    let where = `p.source = $1 AND (p.removal IS NULL OR p.removal->>'by' <> 'scim-delete')`;
    if (q.filter) where += ` AND ${filterToSql(parseScimFilter(q.filter), params)}`;
    const startIndex = Math.max(1, Number.parseInt(q.startIndex ?? '1', 10) || 1);
    const requested = q.count === undefined ? this.settings.SCIM_MAX_RESULTS : Math.max(0, Number.parseInt(q.count, 10) || 0);
    const count = Math.min(requested, this.settings.SCIM_MAX_RESULTS);
    const total = await this.db.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table} p WHERE ${where}`, params);
    const people = count === 0 ? [] : await this.persons.page(this.db.sql, where, params, startIndex - 1, count);
    const resources = people.map((p) => this.render(p, base));
    return { totalResults: Number(total.rows[0]?.n ?? 0), startIndex, itemsPerPage: resources.length, resources };
  }

  /**
   * Runs a bulk request's operations in order. POST is an upsert keyed by externalId (as
   * Microsoft Entra API-driven inbound provisioning uses it); consecutive POSTs and PUTs commit
   * together so a manager later in the request resolves at once. Operations on a worker that
   * occurs twice are all refused (409 uniqueness); the others proceed.
   */
  async bulk(ops: readonly (BulkOperation | { index: number; method: string | undefined; bulkId: string | undefined; error: ScimError })[], failOnErrors: number | undefined, base: string): Promise<BulkOperationResult[]> {
    const batchId = randomUUID();
    const results: BulkOperationResult[] = [];
    const bulkIds = new Map<string, string>();
    const converted = new Map<number, ScimWorker | ScimError>();
    const keyOf = new Map<number, string>();
    for (const op of ops) {
      if ('error' in op) continue;
      if (op.method === 'POST' || op.method === 'PUT') {
        try {
          const w = scimUserToWorker(op.data, this.opts());
          converted.set(op.index, w);
          if (op.method === 'POST' && w.workerId && op.bulkId) bulkIds.set(op.bulkId, w.workerId);
          if (w.workerId) keyOf.set(op.index, `w:${w.workerId}`);
        } catch (e) {
          if (!(e instanceof ScimError)) throw e;
          converted.set(op.index, e);
        }
      }
      if (op.resourceId) keyOf.set(op.index, op.resourceId.startsWith('bulkId:') ? `w:${bulkIds.get(op.resourceId.slice(7)) ?? op.resourceId}` : `p:${op.resourceId}`);
    }
    const counts = new Map<string, number>();
    for (const k of keyOf.values()) counts.set(k, (counts.get(k) ?? 0) + 1);
    const personOfBulkId = new Map<string, string>();
    let errors = 0;
    const push = (r: BulkOperationResult) => {
      results.push(r);
      if (Number(r.status) >= 400) errors++;
    };
    const errorResult = (op: { method?: string | undefined; bulkId?: string | undefined }, e: ScimError): BulkOperationResult => ({
      method: op.method ?? '',
      ...(op.bulkId ? { bulkId: op.bulkId } : {}),
      status: String(e.status),
      response: e.toBody() as unknown as Record<string, unknown>,
    });

    let i = 0;
    while (i < ops.length) {
      if (failOnErrors !== undefined && errors >= failOnErrors) break;
      const op = ops[i]!;
      if ('error' in op) {
        push(errorResult(op, op.error));
        i++;
        continue;
      }
      const key = keyOf.get(op.index);
      if (key && (counts.get(key) ?? 0) > 1) {
        push(errorResult(op, new ScimError(409, 'uniqueness', `${key.slice(2)} is the target of ${counts.get(key)} operations in this request; all of them are refused`)));
        i++;
        continue;
      }
      const c = converted.get(op.index);
      if (c instanceof ScimError) {
        push(errorResult(op, c));
        i++;
        continue;
      }
      if ((op.method === 'POST' || op.method === 'PUT') && failOnErrors === undefined) {
        // A run of upserts in one transaction.
        const run: BulkOperation[] = [];
        while (i < ops.length) {
          const next = ops[i]!;
          if ('error' in next || (next.method !== 'POST' && next.method !== 'PUT')) break;
          const k = keyOf.get(next.index);
          if (converted.get(next.index) instanceof ScimError || (k && (counts.get(k) ?? 0) > 1)) break;
          run.push(next);
          i++;
        }
        for (const r of await this.upserts(run, converted, bulkIds, personOfBulkId, base, batchId)) push(r);
        continue;
      }
      try {
        if (op.method === 'POST' || op.method === 'PUT') {
          for (const r of await this.upserts([op], converted, bulkIds, personOfBulkId, base, batchId)) push(r);
        } else {
          const id = op.resourceId!.startsWith('bulkId:') ? personOfBulkId.get(op.resourceId!.slice(7)) : op.resourceId!;
          if (!id) throw new ScimError(404, undefined, `${op.resourceId} names no User created earlier in this request`);
          if (op.method === 'PATCH') {
            const r = await this.patch(id, op.data, base, op.version);
            push({ method: 'PATCH', ...(op.bulkId ? { bulkId: op.bulkId } : {}), location: `${base}/Users/${id}`, version: etagOf(r.person!.version), status: '200' });
          } else {
            await this.remove(id, op.version);
            push({ method: 'DELETE', ...(op.bulkId ? { bulkId: op.bulkId } : {}), location: `${base}/Users/${id}`, status: '204' });
          }
        }
      } catch (e) {
        if (!(e instanceof ScimError)) throw e;
        push(errorResult(op, e));
      }
      i++;
    }
    return results;
  }

  private async upserts(
    run: readonly BulkOperation[],
    converted: ReadonlyMap<number, ScimWorker | ScimError>,
    bulkIds: ReadonlyMap<string, string>,
    personOfBulkId: Map<string, string>,
    base: string,
    batchId: string,
  ): Promise<BulkOperationResult[]> {
    return this.db.transaction(async (tx) => {
      const out: (BulkOperationResult | { index: number })[] = [];
      const records: WorkerRecord[] = [];
      const slots: number[] = [];
      for (const op of run) {
        const w = converted.get(op.index) as ScimWorker;
        try {
          let workerId = w.workerId;
          if (op.method === 'PUT') {
            const id = op.resourceId!.startsWith('bulkId:') ? personOfBulkId.get(op.resourceId!.slice(7)) : op.resourceId!;
            const current = id ? await this.find(tx.sql, id, true) : undefined;
            if (!current) throw new ScimError(404, undefined, `no User ${op.resourceId}`);
            this.checkVersion(current, op.version);
            if (workerId !== undefined && workerId !== current.workerId) throw new ScimError(400, 'mutability', `externalId is immutable (${current.workerId})`);
            workerId = current.workerId;
          }
          if (!workerId) throw invalidValue('externalId: required; it is the worker id in the HR source');
          records.push(this.record(workerId, w, await this.managerWorkerId(tx.sql, w.manager, bulkIds)));
          slots.push(out.length);
          out.push({ index: op.index });
        } catch (e) {
          if (!(e instanceof ScimError)) throw e;
          out.push({ method: op.method, ...(op.bulkId ? { bulkId: op.bulkId } : {}), status: String(e.status), response: e.toBody() as unknown as Record<string, unknown> });
        }
      }
      const outcomes = await this.writer.applyRecords(tx.sql, this.source, records, { channel: 'SCIM', batchId, where: 'request' });
      for (const [n, o] of outcomes.entries()) {
        const slot = slots[n]!;
        const op = run.find((x) => x.index === (out[slot] as { index: number }).index)!;
        const err = this.failed(o);
        if (err) {
          out[slot] = { method: op.method, ...(op.bulkId ? { bulkId: op.bulkId } : {}), status: String(err.status), response: err.toBody() as unknown as Record<string, unknown> };
          continue;
        }
        if (op.bulkId) personOfBulkId.set(op.bulkId, o.personId!);
        // A manager not known yet is reported on the operation: its response (optional for a
        // success, RFC 7644 §3.7.3) is the User, whose HR extension says managerResolved false.
        const unresolved = o.warnings.some((w) => w.rule === 'manager-known');
        const person = unresolved ? await this.persons.findById(tx.sql, o.personId!) : undefined;
        out[slot] = {
          method: op.method,
          ...(op.bulkId ? { bulkId: op.bulkId } : {}),
          location: `${base}/Users/${o.personId}`,
          version: etagOf(o.version!),
          status: o.status === 'created' ? '201' : '200',
          ...(person ? { response: this.render(person, base) } : {}),
        };
      }
      return out as BulkOperationResult[];
    });
  }
}
