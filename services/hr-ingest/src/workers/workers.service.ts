import { Inject, Injectable } from '@nestjs/common';
import type { SourceChannel } from '@provisio/contracts';
import type { WorkerRecord } from '@provisio/hr-ingest-domain';
import { Database, type SqlClient } from '@provisio/persistence';
import { conflict } from '../http/api-errors.js';
import type { EmittedEvent, LifecycleWriter, RecordOutcome } from '../persons/lifecycle-writer.js';
import { WRITER } from '../tokens.js';
import type { WorkerChange } from './worker-change.schema.js';

export interface IngestOutcome {
  personId: string;
  created: boolean;
  status: RecordOutcome['status'];
  version: number;
  events: EmittedEvent[];
  warnings: RecordOutcome['warnings'];
}

export function toRecord(source: string, workerId: string, change: WorkerChange): WorkerRecord {
  const record: WorkerRecord = { source, workerId, attributes: change.attributes };
  if (change.managerWorkerId !== undefined) record.managerWorkerId = change.managerWorkerId;
  if (change.sourceTimestamp !== undefined) record.sourceTimestamp = Date.parse(change.sourceTimestamp);
  if (change.sequence !== undefined) record.sequence = change.sequence;
  return record;
}

/** Single-worker deltas (workers API, webhook): state and events commit in one transaction. */
@Injectable()
export class WorkersService {
  constructor(
    private readonly db: Database,
    @Inject(WRITER) private readonly writer: LifecycleWriter,
  ) {}

  async ingest(record: WorkerRecord, channel: SourceChannel, before?: (sql: SqlClient) => Promise<void>): Promise<IngestOutcome> {
    return this.db.transaction(async (tx) => {
      if (before) await before(tx.sql);
      const [outcome] = await this.writer.applyRecords(tx.sql, record.source, [record], { channel });
      if (!outcome || outcome.status === 'rejected' || outcome.status === 'stale') {
        throw conflict('the change is older than the state hr-ingest holds for this worker; nothing was changed', outcome?.errors ?? [], 'STALE_UPDATE');
      }
      return {
        personId: outcome.personId!,
        created: outcome.status === 'created',
        status: outcome.status,
        version: outcome.version!,
        events: outcome.events,
        warnings: outcome.warnings,
      };
    });
  }
}
