import { Body, Controller, Get, Headers, HttpCode, Inject, NotFoundException, Param, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import { futureSourceTime, parseCsvMapping, sourceSchema } from '@provisio/hr-ingest-domain';
import { Database } from '@provisio/persistence';
import type { Request } from 'express';
import { z } from 'zod';
import { conflict, invalidInput, mediaTypeOf, parseOr400, payloadTooLarge, unsupportedMediaType } from '../http/api-errors.js';
import type { HrIngestSettings } from '../config.js';
import { SETTINGS, SNAPSHOTS } from '../tokens.js';
import { SnapshotProcessor } from './snapshot-processor.js';
import { SnapshotUploadService, type UploadResult } from './snapshot-upload.service.js';
import type { Snapshot, SnapshotRepository } from './snapshot.repository.js';

const CSV_TYPES = ['text/csv', 'application/csv', 'text/plain'];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];
const MAX_MAPPING_BYTES = 262_144;
const mappingName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a mapping name is lower-case letters, digits and . _ -');

const uploadQuery = z
  .object({
    mapping: mappingName.default('default'),
    mode: z.enum(['full', 'delta']).optional(),
    asOf: z.iso.datetime({ offset: true }).optional(),
    fileName: z.string().max(255).optional(),
  })
  .strict();

function snapshotView(s: Snapshot) {
  return {
    snapshotId: s.id,
    source: s.source,
    status: s.status,
    mode: s.mode,
    absentWorkers: s.absentWorkers,
    mapping: s.mappingName,
    fileName: s.fileName,
    asOf: s.asOf === null ? null : new Date(s.asOf).toISOString(),
    rows: { total: s.rowsTotal, rejected: s.rowsRejected, warnings: s.rowsWarned, applied: s.appliedThrough },
    ignoredColumns: s.ignoredColumns,
    population: s.population,
    planned: s.planned,
    leavers: s.leaversPlanned,
    hold: s.brake?.hold ? { rule: s.brake.rule ?? 'mass-change-brake', reason: s.brake.reason, leavers: s.brake.leavers, population: s.brake.population } : null,
    events: s.events,
    error: s.error,
    receivedBy: s.receivedBy,
    decidedBy: s.decidedBy,
    createdAt: s.createdAt.toISOString(),
    stagedAt: s.stagedAt?.toISOString() ?? null,
    plannedAt: s.plannedAt?.toISOString() ?? null,
    finishedAt: s.finishedAt?.toISOString() ?? null,
    links: { self: `/v1/snapshots/${s.id}`, rejections: `/v1/snapshots/${s.id}/rejections`, warnings: `/v1/snapshots/${s.id}/warnings`, leavers: `/v1/snapshots/${s.id}/leavers` },
  };
}

async function readText(req: Request, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw payloadTooLarge(limit, 'mapping');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * CSV snapshots: the column mapping per source (YAML), streaming uploads, their progress and
 * rejected rows, and the mass-change hold with its confirm/discard decision.
 */
@ApiTags('snapshots')
@ApiBearerAuth()
@Controller()
export class SnapshotsController {
  constructor(
    private readonly db: Database,
    private readonly uploads: SnapshotUploadService,
    private readonly processor: SnapshotProcessor,
    @Inject(SNAPSHOTS) private readonly repo: SnapshotRepository,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
  ) {}

  @Put('v1/sources/:source/csv-mappings/:name')
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Store the CSV column mapping of a source (YAML; see docs/hr-ingest.md)', description: 'Validated before it is stored: unknown attributes, formats and keys are refused with their YAML path.' })
  @ApiConsumes('application/yaml', 'text/yaml', 'text/plain', 'application/json')
  @ApiResponse({ status: 200, description: 'Stored' })
  @ApiResponse({ status: 400, description: 'Invalid mapping: each problem with its path and rule' })
  async putMapping(@Param('source') source: string, @Param('name') name: string, @Req() req: Request, @Headers('content-type') contentType: string | undefined, @Body() body: unknown, @CurrentPrincipal() who?: Principal) {
    const src = parseOr400(sourceSchema, source, 'source');
    const n = parseOr400(mappingName, name, 'name');
    const type = mediaTypeOf(contentType);
    let text: string;
    if (type === 'application/json') text = JSON.stringify(body);
    else if (type && YAML_TYPES.includes(type)) text = await readText(req, MAX_MAPPING_BYTES);
    else throw unsupportedMediaType(contentType, ['application/yaml', 'application/json']);
    const parsed = parseCsvMapping(text);
    if (!parsed.ok) throw invalidInput('invalid CSV mapping', parsed.errors, 'INVALID_MAPPING');
    await this.repo.saveMapping(this.db.sql, src, n, text, who?.subject);
    return {
      source: src,
      name: n,
      columns: parsed.value.columns.map((c) => ({ attribute: c.target, column: c.column, ...(c.format ? { format: c.format } : {}) })),
      mode: parsed.value.mode,
      absentWorkers: parsed.value.absentWorkers,
    };
  }

  @Get('v1/sources/:source/csv-mappings/:name')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'The stored CSV mapping (YAML)' })
  async getMapping(@Param('source') source: string, @Param('name') name: string) {
    const m = await this.repo.mapping(this.db.sql, source, name);
    if (!m) throw new NotFoundException({ statusCode: 404, error: 'Not Found', code: 'UNKNOWN_MAPPING', message: `no CSV mapping ${name} for source ${source}` });
    return { source, name, yaml: m.yaml, updatedAt: m.updatedAt.toISOString() };
  }

  @Post('v1/sources/:source/snapshots')
  @HttpCode(202)
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({
    summary: 'Upload a CSV snapshot (streamed; text/csv). Staged now, planned and applied in the background.',
    description:
      'mode=full (default from the mapping): workers absent from the file become leavers (if the mapping says so); delta: only the rows change anything. A snapshot that would make more leavers than HR_BRAKE_MAX_LEAVER_SHARE / HR_BRAKE_MAX_LEAVERS is held: see GET /v1/snapshots/{id}. Rows that fail validation or repeat a worker id are rejected with reasons; the others proceed.',
  })
  @ApiConsumes('text/csv')
  @ApiQuery({ name: 'mapping', required: false, description: 'mapping name (default "default")' })
  @ApiQuery({ name: 'mode', required: false, enum: ['full', 'delta'] })
  @ApiQuery({ name: 'asOf', required: false, description: 'when HR exported the file (ISO-8601); rows older than stored changes are stale; later than now + HR_MAX_CLOCK_SKEW (5m) = 400 not-in-future' })
  @ApiQuery({ name: 'fileName', required: false })
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 202, description: 'Staged: snapshotId, rows, rejected; poll GET /v1/snapshots/{id}' })
  @ApiResponse({ status: 400, description: 'Header does not match the mapping, CSV syntax error, unknown mapping, asOf in the future' })
  @ApiResponse({ status: 413, description: 'Larger than CSV_MAX_UPLOAD_BYTES or CSV_MAX_ROWS' })
  @ApiResponse({ status: 415, description: 'Not text/csv' })
  async upload(@Param('source') source: string, @Query() query: Record<string, string>, @Req() req: Request, @Headers('content-type') contentType: string | undefined, @CurrentPrincipal() who?: Principal): Promise<UploadResult & { location: string }> {
    const src = parseOr400(sourceSchema, source, 'source');
    const q = parseOr400(uploadQuery, query, 'query');
    if (!CSV_TYPES.includes(mediaTypeOf(contentType) ?? '')) throw unsupportedMediaType(contentType, ['text/csv']);
    const asOf = q.asOf ? Date.parse(q.asOf) : undefined;
    // An export from the future would stamp every row (and judge absentees) by it: refused whole.
    const future = futureSourceTime(asOf, 'query.asOf', Date.now(), this.settings.HR_MAX_CLOCK_SKEW, q.asOf);
    if (future) throw invalidInput('asOf lies in the future; nothing was stored', [future]);
    const r = await this.uploads.upload(req, { source: src, mappingName: q.mapping, mode: q.mode, asOf, fileName: q.fileName, receivedBy: who?.subject });
    return { ...r, location: `/v1/snapshots/${r.snapshotId}` };
  }

  @Get('v1/snapshots')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'Recent snapshots, newest first (filter by source and status, e.g. status=held)' })
  async list(@Query('source') source?: string, @Query('status') status?: string, @Query('limit') limit?: string) {
    const n = Math.min(Math.max(Number.parseInt(limit ?? '50', 10) || 50, 1), 500);
    return { snapshots: (await this.repo.list(this.db.sql, { source, status, limit: n })).map(snapshotView) };
  }

  @Get('v1/snapshots/:id')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'A snapshot: status (staged, held, applying, applied, discarded, superseded, failed), counts, hold, events emitted' })
  async get(@Param('id') id: string) {
    const s = await this.find(id);
    // While applying, the events so far (the total is stored when the snapshot finishes).
    if (s.status === 'applying') s.events = await this.repo.eventCounts(this.db.sql, id);
    return snapshotView(s);
  }

  @Get('v1/snapshots/:id/rejections')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'Rejected rows with their reasons (field, value, rule), in file order; page with after=<row>' })
  async rejections(@Param('id') id: string, @Query('after') after?: string, @Query('limit') limit?: string) {
    return this.issues(id, 'rejection', after, limit);
  }

  @Get('v1/snapshots/:id/warnings')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'Rows accepted with a remark (e.g. a manager not known yet)' })
  async warnings(@Param('id') id: string, @Query('after') after?: string, @Query('limit') limit?: string) {
    return this.issues(id, 'warning', after, limit);
  }

  @Get('v1/snapshots/:id/leavers')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'The people this snapshot makes leavers (terminated in the file, or absent from it); page with after=<personId>' })
  async leavers(@Param('id') id: string, @Query('after') after?: string, @Query('limit') limit?: string) {
    await this.find(id);
    const n = Math.min(Math.max(Number.parseInt(limit ?? '100', 10) || 100, 1), 1000);
    const rows = await this.repo.leaverPage(this.db.sql, id, after && /^[0-9a-f-]{36}$/i.test(after) ? after : '00000000-0000-0000-0000-000000000000', n);
    return {
      leavers: rows.map((r) => ({
        personId: r.person_id,
        workerId: r.worker_id,
        reason: r.reason,
        phase: r.phase,
        userName: (r.attributes?.['userName'] as string | null | undefined) ?? null,
        displayName: (r.attributes?.['displayName'] as string | null | undefined) ?? null,
        department: (r.attributes?.['department'] as string | null | undefined) ?? null,
      })),
      next: rows.length === n ? rows.at(-1)!.person_id : null,
    };
  }

  @Post('v1/snapshots/:id/confirm')
  @HttpCode(200)
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Confirm a held snapshot: it is applied as planned (its leavers included)' })
  @ApiResponse({ status: 409, description: 'Not held (applied, discarded, or superseded by a newer snapshot)' })
  async confirm(@Param('id') id: string, @CurrentPrincipal() who?: Principal) {
    return this.decideHold(id, 'applying', who);
  }

  @Post('v1/snapshots/:id/discard')
  @HttpCode(200)
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Discard a held snapshot: nothing of it is applied' })
  @ApiResponse({ status: 409, description: 'Not held' })
  async discard(@Param('id') id: string, @CurrentPrincipal() who?: Principal) {
    return this.decideHold(id, 'discarded', who);
  }

  private async decideHold(id: string, to: 'applying' | 'discarded', who: Principal | undefined) {
    await this.find(id);
    const r = await this.db.sql.query(
      `UPDATE ${this.repo.snapshots} SET status = $2, decided_by = $3, finished_at = CASE WHEN $2 = 'discarded' THEN now() ELSE NULL END WHERE id = $1 AND status = 'held'`,
      [id, to, who?.subject ?? null],
    );
    if (r.rowCount !== 1) {
      const s = await this.find(id);
      throw conflict(`snapshot ${id} is ${s.status}, not held`, [{ field: 'status', value: s.status, rule: 'held', message: 'only a held snapshot can be confirmed or discarded' }], 'SNAPSHOT_NOT_HELD');
    }
    if (to === 'applying') this.processor.wake();
    return snapshotView(await this.find(id));
  }

  private async issues(id: string, column: 'rejection' | 'warning', after?: string, limit?: string) {
    await this.find(id);
    const n = Math.min(Math.max(Number.parseInt(limit ?? '100', 10) || 100, 1), 1000);
    const rows = await this.repo.issuePage(this.db.sql, id, column, Number.parseInt(after ?? '0', 10) || 0, n);
    return {
      rows: rows.map((r) => ({ row: r.row_no, line: r.line, workerId: r.worker_id, [column === 'rejection' ? 'errors' : 'warnings']: r.issues })),
      next: rows.length === n ? rows.at(-1)!.row_no : null,
    };
  }

  private async find(id: string): Promise<Snapshot> {
    const s = await this.repo.get(this.db.sql, id);
    if (!s) throw new NotFoundException({ statusCode: 404, error: 'Not Found', code: 'UNKNOWN_SNAPSHOT', message: `no snapshot ${id}` });
    return s;
  }
}
