import { BadRequestException, Controller, Get, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import { z } from 'zod';
import { AUDIT_QUERIES, CursorError, type AuditQueries, type Page, type RecordView } from './audit-queries.js';
import { limitSchema, parse, personIdSchema, rangeQuery, seqSchema } from './params.js';

const searchQuery = rangeQuery.and(
  z.object({
    type: z.string().regex(/^[\w.*-]{1,200}$/, 'a CloudEvents type, optionally ending in *').optional(),
    topic: z.string().regex(/^[\w.-]{1,249}$/, 'a topic name').optional(),
    target: z.string().min(1).max(200).optional(),
    person: personIdSchema.optional(),
    cursor: z.string().max(200).optional(),
    limit: limitSchema(1000, 100),
  }),
);

export async function pageOrBadCursor<T>(p: Promise<Page<T>>): Promise<Page<T>> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof CursorError) throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: 'invalid query', details: [{ field: 'query.cursor', rule: 'cursor', message: e.message }] });
    throw e;
  }
}

@ApiTags('audit: records')
@ApiBearerAuth()
@Controller('v1/records')
export class RecordsController {
  constructor(@Inject(AUDIT_QUERIES) private readonly queries: AuditQueries) {}

  @Get()
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({ summary: 'Search records by event time range, event type, topic, target and person (cursor pagination, ordered by event time)' })
  @ApiQuery({ name: 'from', required: false }) @ApiQuery({ name: 'to', required: false })
  @ApiQuery({ name: 'type', required: false, description: 'CloudEvents type, e.g. dev.provisio.provisioning.result or dev.provisio.lifecycle.*' })
  @ApiQuery({ name: 'topic', required: false }) @ApiQuery({ name: 'target', required: false }) @ApiQuery({ name: 'person', required: false })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' }) @ApiQuery({ name: 'limit', required: false, description: '1-1000, default 100' })
  @ApiOkResponse({ description: '{ items: RecordView[], nextCursor }' })
  async search(@Query() query: unknown): Promise<Page<RecordView>> {
    return pageOrBadCursor(this.queries.search(parse(searchQuery, query, 'query')));
  }

  @Get(':seq')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({ summary: 'One record by chain position' })
  async one(@Param('seq') seq: string): Promise<RecordView> {
    const r = await this.queries.record(parse(seqSchema, seq, 'seq'));
    if (!r) throw new NotFoundException(`no audit record at position ${seq}`);
    return r;
  }
}
