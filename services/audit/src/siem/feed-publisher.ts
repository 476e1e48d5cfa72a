import { formatSiemEvent, revealPersonalData, recordAad, toOcsf, violationToOcsf, type ResultFacts, type SiemEvent, type SiemFormat, type ViolationFacts } from '@provisio/audit-domain';
import { avroCodec } from '@provisio/contracts';
import { AVRO_CONTENT_TYPE, envelopeHeaders, type Headers, type MessageBroker, type OutgoingMessage } from '@provisio/messaging';
import { counter } from '@provisio/observability';
import { quoteIdent, type Database, type SqlClient } from '@provisio/persistence';
import type { Logger } from 'pino';
import type { ChainService } from '../chain/chain.service.js';
import type { PersonKeyStore } from '../store/person-keys.repository.js';
import type { RecordRepository } from '../store/record.repository.js';

export const AuditTopics = {
  siem: 'audit.siem',
  checkpoints: 'audit.checkpoints',
  siemFor: (format: SiemFormat): string => (format === 'ocsf' ? 'audit.siem' : `audit.siem.${format}`),
} as const;

export const AuditEventTypes = {
  checkpoint: 'dev.provisio.audit.checkpoint',
  siem: (format: SiemFormat): string => `dev.provisio.audit.siem.${format}`,
} as const;

const published = counter('provisio_audit_siem_published_total', 'SIEM events published, by format and OCSF class', ['format', 'class_uid']);
const checkpointsPublished = counter('provisio_audit_checkpoints_published_total', 'Signed checkpoints published to Kafka', []);

export interface FeedOptions {
  formats: SiemFormat[];
  privilegeTargetKinds: ReadonlySet<string>;
  productVersion: string;
  batchSize?: number;
}

interface FeedRow {
  seq: string;
  recorded_at: Date;
  trace_id: string | null;
  traceparent: string | null;
  schema_name: string;
  payload_json: ResultFacts | ViolationFacts;
  cause_ids: string[];
}

/**
 * Publishes what audit derives from its store, in chain order, at least once: signed
 * checkpoints to `audit.checkpoints`, and OCSF (plus optional CEF/ECS) events for what
 * connectors did to `audit.siem`. The store is the outbox: a cursor per feed, advanced in the
 * same transaction that holds it after the send; one replica publishes at a time.
 */
export class FeedPublisher {
  private readonly cursors: string;

  constructor(
    private readonly db: Database,
    private readonly repo: RecordRepository,
    private readonly chain: ChainService,
    private readonly keys: PersonKeyStore,
    private readonly broker: MessageBroker,
    private readonly o: FeedOptions,
    private readonly logger: Logger,
  ) {
    this.cursors = `${quoteIdent(repo.schema)}.feed_cursors`;
  }

  async publishOnce(): Promise<{ checkpoints: number; siem: number }> {
    const checkpoints = await this.feed('checkpoints', (sql, cursor) => this.checkpointBatch(sql, cursor));
    const siem = await this.feed('siem', (sql, cursor) => this.siemBatch(sql, cursor));
    return { checkpoints, siem };
  }

  private async feed(name: string, batch: (sql: SqlClient, cursor: number) => Promise<{ messages: OutgoingMessage[]; next: number }>): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.sql.query(`INSERT INTO ${this.cursors} (feed, position) VALUES ($1, 0) ON CONFLICT (feed) DO NOTHING`, [name]);
      // SKIP LOCKED: another replica publishing this feed right now is not waited for.
      const r = await tx.sql.query<{ position: string }>(`SELECT position FROM ${this.cursors} WHERE feed = $1 FOR UPDATE SKIP LOCKED`, [name]);
      if (!r.rows[0]) return 0;
      const cursor = Number(r.rows[0].position);
      const { messages, next } = await batch(tx.sql, cursor);
      if (next === cursor) return 0;
      await this.broker.send(messages);
      await tx.sql.query(`UPDATE ${this.cursors} SET position = $2, updated_at = now() WHERE feed = $1`, [name, next]);
      if (messages.length > 0) this.logger.debug({ feed: name, messages: messages.length, position: next }, 'audit feed published');
      return messages.length;
    });
  }

  private async checkpointBatch(_sql: SqlClient, cursor: number): Promise<{ messages: OutgoingMessage[]; next: number }> {
    const list = await this.chain.listCheckpoints({ afterId: cursor, limit: 200 });
    const codec = avroCodec();
    const messages = list.map((c) => {
      const s = c.statement;
      const value = codec.encode('AuditCheckpoint', {
        chainId: s.chainId,
        kind: s.kind === 'anchor' ? 'ANCHOR' : 'PERIODIC',
        seq: s.seq,
        hash: s.hash,
        recordedAt: s.recordedAt,
        issuedAt: s.issuedAt,
        previousSeq: s.previous?.seq ?? null,
        keyId: s.keyId,
        algorithm: 'Ed25519',
        statement: JSON.stringify(s),
        signature: c.signature,
      });
      return {
        topic: AuditTopics.checkpoints,
        key: s.chainId,
        value,
        headers: envelopeHeaders({
          id: `${s.chainId}:${s.kind}:${s.seq}`,
          type: AuditEventTypes.checkpoint,
          source: '/provisio/audit',
          time: new Date(s.issuedAt).toISOString(),
          contentType: AVRO_CONTENT_TYPE,
          dataschema: `urn:provisio:schema:AuditCheckpoint:${codec.fingerprintOf('AuditCheckpoint')}`,
        }),
      };
    });
    if (list.length > 0) checkpointsPublished.inc({}, list.length);
    return { messages, next: list.at(-1)?.id ?? cursor };
  }

  private async siemBatch(sql: SqlClient, cursor: number): Promise<{ messages: OutgoingMessage[]; next: number }> {
    const size = this.o.batchSize ?? 500;
    const head = (await this.repo.head(sql)).seq;
    if (head <= cursor) return { messages: [], next: cursor };
    // What connectors did (results) and segregation-of-duties findings (policy violations).
    // Lifecycle events are not emitted: they change no account (see docs/audit.md, SIEM feed).
    const r = await sql.query<FeedRow>(
      `SELECT seq, recorded_at, trace_id, headers->>'traceparent' AS traceparent, schema_name, payload_json, cause_ids FROM ${this.repo.records}
       WHERE seq > $1 AND seq <= $2 AND dead_letter_of IS NULL
         AND ((schema_name = 'ProvisioningResult' AND outcome IN ('APPLIED', 'FAILED')) OR schema_name = 'PolicyViolation')
       ORDER BY seq LIMIT $3`,
      [cursor, head, size],
    );
    const next = r.rows.length === size ? Number(r.rows.at(-1)!.seq) : head;
    const names = await this.accountNames(sql, r.rows.filter((x) => x.schema_name === 'ProvisioningResult').flatMap((x) => x.cause_ids));
    const messages: OutgoingMessage[] = [];
    for (const row of r.rows) {
      const src = { seq: Number(row.seq), recordedAt: row.recorded_at.getTime(), traceId: row.trace_id };
      let events: SiemEvent[];
      let personId: string;
      if (row.schema_name === 'PolicyViolation') {
        const violation = row.payload_json as ViolationFacts;
        personId = violation.personId;
        events = violationToOcsf({ ...src, violation }, { productVersion: this.o.productVersion });
      } else {
        const result = row.payload_json as ResultFacts;
        personId = result.personId;
        events = toOcsf({ ...src, result, accountName: names.get(result.commandId) ?? null }, { productVersion: this.o.productVersion, privilegeTargetKinds: this.o.privilegeTargetKinds });
      }
      for (const e of events) {
        for (const format of this.o.formats) {
          const headers: Headers = envelopeHeaders({
            id: e.metadata.uid,
            type: AuditEventTypes.siem(format),
            source: '/provisio/audit',
            subject: personId,
            time: new Date(e.time).toISOString(),
            contentType: format === 'cef' ? 'text/plain' : 'application/json',
          });
          // The SIEM event continues the trace of the change it reports.
          if (row.traceparent) headers['traceparent'] = row.traceparent;
          messages.push({ topic: AuditTopics.siemFor(format), key: personId, value: Buffer.from(formatSiemEvent(e, format), 'utf8'), headers });
          published.inc({ format, class_uid: String(e.class_uid) });
        }
      }
    }
    return { messages, next };
  }

  /** Account names from the commands the results answer, where the person's key still exists. */
  private async accountNames(sql: SqlClient, commandIds: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (commandIds.length === 0) return out;
    // Only the account name is read back (and revealed): not the whole command.
    const r = await sql.query<{ entity_id: string; key_id: string | null; account: unknown; pii: Buffer | null; topic: string; kafka_partition: number; kafka_offset: string }>(
      `SELECT entity_id, key_id, payload_json->'accountName' AS account, pii, topic, kafka_partition, kafka_offset FROM ${this.repo.records}
       WHERE entity_id = ANY($1::text[]) AND schema_name = 'ProvisioningCommand' AND dead_letter_of IS NULL`,
      [[...new Set(commandIds)]],
    );
    const keys = await this.keys.keyById(sql, r.rows.map((x) => x.key_id).filter((k): k is string => k !== null));
    for (const row of r.rows) {
      const key = row.key_id ? (keys.get(row.key_id) ?? null) : null;
      const name = row.key_id ? (revealPersonalData({ accountName: row.account }, key, recordAad(row.topic, row.kafka_partition, row.kafka_offset), row.pii).json as { accountName: unknown }).accountName : row.account;
      if (typeof name === 'string') out.set(row.entity_id, name);
    }
    return out;
  }
}
