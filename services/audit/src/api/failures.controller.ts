import { BadRequestException, Body, ConflictException, Controller, GoneException, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, ServiceUnavailableException } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import { z } from 'zod';
import { AUDIT_QUERIES, type AuditQueries, type Page, type RecordView } from './audit-queries.js';
import { limitSchema, parse, rangeQuery, seqSchema } from './params.js';
import { pageOrBadCursor } from './records.controller.js';
import { ReplayError, ReplayErrorCode, type ReplayOutcome, type ReplayService } from './replay.service.js';

export const REPLAY_SERVICE = Symbol('REPLAY_SERVICE');

const listQuery = rangeQuery.and(z.object({ topic: z.string().regex(/^[\w.-]{1,249}$/, 'a topic name').optional(), target: z.string().min(1).max(200).optional(), cursor: z.string().max(200).optional(), limit: limitSchema(1000, 100) }));
const replayBody = z.object({ reason: z.string().max(500).optional(), force: z.boolean().default(false) }).strict();

@ApiTags('audit: failures')
@ApiBearerAuth()
@Controller('v1')
export class FailuresController {
  constructor(
    @Inject(AUDIT_QUERIES) private readonly queries: AuditQueries,
    @Inject(REPLAY_SERVICE) private readonly replays: ReplayService,
  ) {}

  @Get('failures')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({ summary: 'Failed provisioning results and dead-lettered records, by event time' })
  @ApiQuery({ name: 'from', required: false }) @ApiQuery({ name: 'to', required: false }) @ApiQuery({ name: 'topic', required: false }) @ApiQuery({ name: 'target', required: false })
  @ApiQuery({ name: 'cursor', required: false }) @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ description: '{ items: RecordView[], nextCursor }' })
  async failures(@Query() query: unknown): Promise<Page<RecordView>> {
    return pageOrBadCursor(this.queries.search({ ...parse(listQuery, query, 'query'), failuresOnly: true }));
  }

  @Get('dead-letters')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({ summary: 'Dead-lettered records (<topic>.dlt) with the error that sent them there' })
  @ApiQuery({ name: 'from', required: false }) @ApiQuery({ name: 'to', required: false }) @ApiQuery({ name: 'topic', required: false })
  @ApiQuery({ name: 'cursor', required: false }) @ApiQuery({ name: 'limit', required: false })
  async deadLetters(@Query() query: unknown): Promise<Page<RecordView>> {
    return pageOrBadCursor(this.queries.search({ ...parse(listQuery, query, 'query'), deadLettersOnly: true }));
  }

  @Post('dead-letters/:seq/replay')
  @HttpCode(202)
  @RequireScopes(Scopes.auditAdmin)
  @ApiOperation({
    summary: 'Replay a dead-lettered record to the topic it failed on',
    description:
      'Publishes the original key, bytes and headers (without dlt-* headers) to the topic the dead-letter topic belongs to (its name minus .dlt), with provisio-replay-of and provisio-replayed-by headers. 400 when the record is not a dead letter or its dlt-original-topic header names another topic; 409 when it was replayed before (force=true replays again); 503 when the replay principal is not configured on a SASL cluster (KAFKA_REPLAY_SASL_USERNAME/KAFKA_REPLAY_SASL_PASSWORD).',
  })
  @ApiBody({ schema: z.toJSONSchema(replayBody, { io: 'input' }) as Record<string, unknown>, required: false })
  async replay(@Param('seq') seq: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal | undefined): Promise<ReplayOutcome> {
    const position = parse(seqSchema, seq, 'seq');
    const b = parse(replayBody, body ?? {}, 'body');
    try {
      return await this.replays.replay(await this.queries.rawRecord(position), position, { by: principal?.subject ?? 'unknown', reason: b.reason, force: b.force });
    } catch (e) {
      if (!(e instanceof ReplayError)) throw e;
      switch (e.code) {
        case ReplayErrorCode.NotFound:
          throw new NotFoundException(e.message);
        case ReplayErrorCode.NotADeadLetter:
        case ReplayErrorCode.WrongDestination:
          throw new BadRequestException(e.message);
        case ReplayErrorCode.AlreadyReplayed:
          throw new ConflictException(e.message);
        case ReplayErrorCode.Unreadable:
          throw new GoneException(e.message);
        case ReplayErrorCode.Unavailable:
          throw new ServiceUnavailableException(e.message);
      }
    }
  }
}
