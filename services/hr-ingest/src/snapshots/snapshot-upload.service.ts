import { Inject, Injectable } from '@nestjs/common';
import { bindHeader, futureSourceTime, mapRow, parseCsvMapping, type BoundMapping, type CsvMapping, type FieldError } from '@provisio/hr-ingest-domain';
import { LOGGER, type Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { parse } from 'csv-parse';
import { randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { HrIngestSettings } from '../config.js';
import { invalidInput, payloadTooLarge } from '../http/api-errors.js';
import { SETTINGS, SNAPSHOTS } from '../tokens.js';
import { SnapshotProcessor } from './snapshot-processor.js';
import { SnapshotRepository, type StagedRow } from './snapshot.repository.js';

export interface UploadOptions {
  source: string;
  mappingName: string;
  mode?: 'full' | 'delta' | undefined;
  asOf?: number | undefined;
  fileName?: string | undefined;
  receivedBy?: string | undefined;
}

export interface UploadResult {
  snapshotId: string;
  status: 'staged';
  mode: 'full' | 'delta';
  rowsTotal: number;
  rowsRejected: number;
  ignoredColumns: string[];
}

class UploadError extends Error {
  constructor(
    message: string,
    readonly http: Error,
  ) {
    super(message);
  }
}

/**
 * Receives a CSV snapshot as a stream: parses it row by row (the file is never held in memory),
 * maps each row with the source's column mapping, and stages it — valid records and rejected
 * rows with their reasons — in PostgreSQL, SNAPSHOT_BATCH_SIZE (2000) rows per statement. Nothing is applied here;
 * the processor plans the snapshot (mass-change brake) and applies it. A file that cannot be
 * read (bad header, CSV syntax, too large) leaves nothing behind.
 */
@Injectable()
export class SnapshotUploadService {
  constructor(
    private readonly db: Database,
    @Inject(SNAPSHOTS) private readonly repo: SnapshotRepository,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
    private readonly processor: SnapshotProcessor,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async mapping(source: string, name: string): Promise<CsvMapping> {
    const stored = await this.repo.mapping(this.db.sql, source, name);
    if (!stored) {
      throw invalidInput(`no CSV mapping ${name} for source ${source}`, [
        { field: 'mapping', value: name, rule: 'mapping-exists', message: `PUT /v1/sources/${source}/csv-mappings/${name} first` },
      ], 'UNKNOWN_MAPPING');
    }
    const m = parseCsvMapping(stored.yaml);
    if (!m.ok) throw invalidInput(`the stored mapping ${name} is invalid`, m.errors);
    return m.value;
  }

  async upload(body: Readable, o: UploadOptions): Promise<UploadResult> {
    const mapping = await this.mapping(o.source, o.mappingName);
    const mode = o.mode ?? mapping.mode;
    const id = randomUUID();
    await this.repo.create(this.db.sql, { id, source: o.source, mode, absentWorkers: mapping.absentWorkers, mappingName: o.mappingName, fileName: o.fileName, asOf: o.asOf, receivedBy: o.receivedBy });
    try {
      const { rowsTotal, ignoredColumns, terminating } = await this.stage(id, body, mapping, o);
      await this.repo.rejectDuplicates(this.db.sql, id);
      await this.repo.markStaged(this.db.sql, id, { rowsTotal, ignoredColumns, terminating });
      this.processor.wake();
      const s = (await this.repo.get(this.db.sql, id))!;
      return { snapshotId: id, status: 'staged', mode, rowsTotal, rowsRejected: s.rowsRejected, ignoredColumns };
    } catch (e) {
      body.unpipe();
      body.resume();
      await this.repo.fail(this.db.sql, id, (e as Error).message).catch((err: unknown) => this.logger.warn({ err, snapshotId: id }, 'could not mark the snapshot failed'));
      if (e instanceof UploadError) throw e.http;
      this.logger.error({ err: e, snapshotId: id }, 'CSV upload failed');
      throw e;
    }
  }

  private async stage(id: string, body: Readable, mapping: CsvMapping, o: UploadOptions): Promise<{ rowsTotal: number; ignoredColumns: string[]; terminating: number }> {
    const maxBytes = this.settings.CSV_MAX_UPLOAD_BYTES;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > maxBytes) cb(new UploadError('the upload is too large', payloadTooLarge(maxBytes, 'CSV upload')));
        else cb(null, chunk);
      },
    });
    const parser = parse({
      bom: true,
      delimiter: mapping.delimiter,
      quote: mapping.quote,
      encoding: mapping.encoding === 'utf-8' ? 'utf8' : mapping.encoding,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
    });
    // Not pipeline(): on an early error the request must stay open so the 400/413 can be sent;
    // the caller discards the rest of the body.
    body.on('error', (e) => parser.destroy(e));
    counter.on('error', (e) => parser.destroy(e));
    body.pipe(counter).pipe(parser);
    let bound: BoundMapping | undefined;
    let rowNo = 0;
    // Rows that may make a leaver (terminated, or a termination date): the brake's cheap bound.
    let terminating = 0;
    let buffer: StagedRow[] = [];
    const batch = this.settings.SNAPSHOT_BATCH_SIZE;
    try {
      for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        if (!bound) {
          const b = bindHeader(mapping, item.record);
          if (!b.ok) throw new UploadError('the header does not match the mapping', invalidInput('the CSV header does not match the mapping', b.errors, 'CSV_HEADER_MISMATCH'));
          bound = b.value;
          continue;
        }
        rowNo++;
        if (rowNo > this.settings.CSV_MAX_ROWS) {
          throw new UploadError('too many rows', payloadTooLarge(this.settings.CSV_MAX_ROWS, `CSV upload's row count (limit in rows, CSV_MAX_ROWS)`));
        }
        let mapped = mapRow(bound, item.record, o.source);
        if (mapped.ok && mapped.record.sourceTimestamp !== undefined) {
          // A row stamped in the future is rejected (its worker still counts as present).
          const column = mapping.columns.find((c) => c.target === 'sourceTimestamp')?.column ?? 'sourceTimestamp';
          const future = futureSourceTime(mapped.record.sourceTimestamp, column, Date.now(), this.settings.HR_MAX_CLOCK_SKEW);
          if (future) mapped = { ok: false, workerId: mapped.record.workerId, errors: [future] };
        }
        if (mapped.ok) {
          const record = mapped.record;
          if (record.sourceTimestamp === undefined && o.asOf !== undefined) record.sourceTimestamp = o.asOf;
          if (record.attributes.status === 'terminated' || record.attributes.terminationDate) terminating++;
          buffer.push({ rowNo, line: item.info.lines, workerId: record.workerId, presentIds: null, record, rejection: null });
        } else {
          buffer.push({ rowNo, line: item.info.lines, workerId: mapped.workerId ?? null, presentIds: mapped.presentIds ?? null, record: null, rejection: mapped.errors as FieldError[] });
        }
        if (buffer.length >= batch) {
          await this.repo.stageRows(this.db.sql, id, buffer);
          buffer = [];
        }
      }
    } catch (e) {
      if (e instanceof UploadError) throw e;
      const err = e as { code?: string; message: string; lines?: number };
      if (typeof err.code === 'string' && err.code.startsWith('CSV_')) {
        throw new UploadError(err.message, invalidInput('the file is not valid CSV', [{ field: err.lines ? `line ${err.lines}` : '(file)', rule: err.code, message: err.message }], 'CSV_SYNTAX'));
      }
      throw e;
    }
    if (!bound) throw new UploadError('empty file', invalidInput('the file has no header row', [{ field: '(file)', rule: 'header-row', message: 'the first row must name the columns' }], 'CSV_EMPTY'));
    await this.repo.stageRows(this.db.sql, id, buffer);
    return { rowsTotal: rowNo, ignoredColumns: bound.ignoredColumns, terminating };
  }
}
