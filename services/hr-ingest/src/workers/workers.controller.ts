import { BadRequestException, Body, Controller, HttpCode, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import { z } from 'zod';
import { sourceSchema, workerIdSchema, workerInputSchema } from './worker-input.js';
import { WorkersService, type IngestOutcome } from './workers.service.js';

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: `invalid ${what}`,
      details: r.error.issues.map((i) => ({ field: [what, ...i.path].join('.'), rule: i.code, message: i.message })),
    });
  }
  return r.data;
}

@ApiTags('workers')
@ApiBearerAuth()
@Controller('v1/sources/:source/workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Put(':workerId')
  @HttpCode(200)
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Create or update one worker (delta: absent attributes stay unchanged)' })
  @ApiBody({ schema: z.toJSONSchema(workerInputSchema, { io: 'input' }) as Record<string, unknown> })
  @ApiResponse({ status: 200, description: 'Applied; lists the lifecycle events emitted (none when nothing changed)' })
  @ApiResponse({ status: 400, description: 'Invalid body; details name each field and rule' })
  async put(@Param('source') source: string, @Param('workerId') workerId: string, @Body() body: unknown): Promise<IngestOutcome> {
    const input = parse(workerInputSchema, body, 'body');
    return this.workers.ingest(
      {
        source: parse(sourceSchema, source, 'source'),
        workerId: parse(workerIdSchema, workerId, 'workerId'),
        attributes: input.attributes,
        sourceTimestamp: input.sourceTimestamp ? Date.parse(input.sourceTimestamp) : undefined,
        sequence: input.sequence,
      },
      'API',
    );
  }
}
