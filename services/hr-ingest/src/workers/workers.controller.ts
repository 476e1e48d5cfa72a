import { Body, Controller, Get, Headers, HttpCode, Inject, NotFoundException, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import { futureSourceTime, sourceSchema, workerIdSchema } from '@provisio/hr-ingest-domain';
import { Database } from '@provisio/persistence';
import { z } from 'zod';
import type { HrIngestSettings } from '../config.js';
import { invalidInput, mediaTypeOf, parseOr400, unsupportedMediaType } from '../http/api-errors.js';
import type { PersonRepository, StoredPerson } from '../persons/person.repository.js';
import { PERSONS, SETTINGS } from '../tokens.js';
import { workerChangeSchema } from './worker-change.schema.js';
import { WorkersService, toRecord, type IngestOutcome } from './workers.service.js';

/** The stored person record, as the read APIs return it. */
export function personView(p: StoredPerson) {
  return {
    personId: p.personId,
    source: p.source,
    workerId: p.workerId,
    phase: p.phase,
    version: p.version,
    attributes: p.attributes,
    managerWorkerId: p.managerWorkerId,
    managerResolved: p.managerWorkerId === null || p.attributes.managerPersonId !== null || p.managerWorkerId === p.workerId,
    removal: p.removal && { by: p.removal.by, at: new Date(p.removal.at).toISOString() },
    nextTransitionAt: p.nextTransitionAt === null ? null : new Date(p.nextTransitionAt).toISOString(),
    sourceTimestamp: p.sourceTimestamp === null ? null : new Date(p.sourceTimestamp).toISOString(),
    sequence: p.sequence,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

@ApiTags('workers')
@ApiBearerAuth()
@Controller()
export class WorkersController {
  constructor(
    private readonly workers: WorkersService,
    private readonly db: Database,
    @Inject(PERSONS) private readonly persons: PersonRepository,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
  ) {}

  @Put('v1/sources/:source/workers/:workerId')
  @HttpCode(200)
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({
    summary: 'Create or update one worker (a delta: absent attributes stay unchanged, null clears)',
    description:
      'Emits the lifecycle events the change implies (JOINER, MOVER, LEAVER, REHIRE, UPDATE, CONVERSION; a future hire date announces a PRE_HIRE joiner now and the start at its time). The same body twice emits nothing.',
  })
  @ApiBody({ schema: z.toJSONSchema(workerChangeSchema, { io: 'input' }) as Record<string, unknown> })
  @ApiResponse({ status: 200, description: 'Applied: personId, status (created, changed, unchanged), the events emitted, warnings (e.g. a manager not known yet)' })
  @ApiResponse({ status: 400, description: 'Invalid body (also a sourceTimestamp later than now + HR_MAX_CLOCK_SKEW, rule not-in-future); details name each field, value and rule' })
  @ApiResponse({ status: 409, description: 'Stale: an older sourceTimestamp or sequence than stored (code STALE_UPDATE); nothing changed' })
  @ApiResponse({ status: 415, description: 'Not application/json (code UNSUPPORTED_MEDIA_TYPE)' })
  async put(@Param('source') source: string, @Param('workerId') workerId: string, @Headers('content-type') contentType: string | undefined, @Body() body: unknown): Promise<IngestOutcome> {
    if (mediaTypeOf(contentType) !== 'application/json') throw unsupportedMediaType(contentType, ['application/json']);
    const change = parseOr400(workerChangeSchema, body, 'body');
    const future = change.sourceTimestamp === undefined ? undefined : futureSourceTime(Date.parse(change.sourceTimestamp), 'body.sourceTimestamp', Date.now(), this.settings.HR_MAX_CLOCK_SKEW, change.sourceTimestamp);
    if (future) throw invalidInput('invalid body: the source time lies in the future', [future]);
    return this.workers.ingest(toRecord(parseOr400(sourceSchema, source, 'source'), parseOr400(workerIdSchema, workerId, 'workerId'), change), 'API');
  }

  @Get('v1/sources/:source/workers/:workerId')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: "One worker's person record: attributes, phase, manager reference, next scheduled transition" })
  @ApiResponse({ status: 404, description: 'No such worker in that source' })
  async get(@Param('source') source: string, @Param('workerId') workerId: string) {
    const p = await this.persons.findByWorker(this.db.sql, source, workerId);
    if (!p) throw new NotFoundException({ statusCode: 404, error: 'Not Found', code: 'UNKNOWN_WORKER', message: `no worker ${workerId} in source ${source}` });
    return personView(p);
  }

  @Get('v1/persons/:personId')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'One person record by personId' })
  @ApiResponse({ status: 404, description: 'No such person' })
  async byId(@Param('personId') personId: string) {
    const p = await this.persons.findById(this.db.sql, personId);
    if (!p) throw new NotFoundException({ statusCode: 404, error: 'Not Found', code: 'UNKNOWN_PERSON', message: `no person ${personId}` });
    return personView(p);
  }
}
