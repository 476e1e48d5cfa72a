import { Controller, Get, Param, ParseUUIDPipe, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { parse, policyBodySchema, readPolicyUpload } from './http.js';
import { actorOf } from './principal.js';
import { SimulationService } from './simulation.service.js';

const changesQuery = z.object({
  target: z.string().min(1).max(128).optional(),
  after: z.string().max(256).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

@ApiTags('simulations')
@ApiBearerAuth()
@Controller('v1/simulations')
export class SimulationsController {
  constructor(private readonly simulations: SimulationService) {}

  @Post()
  // Write scope: a simulation evaluates the whole population twice (heavy), like preparing a change.
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({
    summary: 'Simulate a candidate policy against the active one over the whole population; nothing is emitted or stored but the report',
    description: 'Answers 202 at once (poll GET /v1/simulations/{id}); with ?wait=true it answers 201 when done (at most 120 s).',
  })
  @ApiConsumes('application/json', 'application/yaml')
  @ApiBody({ schema: z.toJSONSchema(policyBodySchema, { io: 'input' }) as Record<string, unknown> })
  @ApiQuery({ name: 'wait', required: false, type: Boolean })
  @ApiResponse({ status: 202, description: 'Started' })
  @ApiResponse({ status: 422, description: 'The candidate policy is invalid (every problem with file, line, rule)' })
  async create(
    @Req() req: IncomingMessage & { res?: { status(n: number): unknown } },
    @CurrentPrincipal() principal: Principal | undefined,
    @Query('wait') wait?: string,
    @Query('name') name?: string,
  ): Promise<unknown> {
    const upload = await readPolicyUpload(req, { name });
    const { id, done } = await this.simulations.start(upload.files, actorOf(principal));
    if (wait === 'true') {
      await Promise.race([done, new Promise((r) => setTimeout(r, 120_000).unref())]);
      req.res?.status(201);
    } else req.res?.status(202);
    return this.simulations.get(id);
  }

  @Get(':id')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({
    summary: 'Status, progress and summary: per target accounts gained and lost, state changes, groups added and removed, SoD violations introduced',
  })
  async get(@Param('id', new ParseUUIDPipe()) id: string): Promise<unknown> {
    return this.simulations.get(id);
  }

  @Get(':id/changes')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'Who gains or loses which access on which target (pages by person id; target #sod lists SoD changes)' })
  @ApiQuery({ name: 'target', required: false })
  @ApiQuery({ name: 'after', required: false, description: 'next from the previous page' })
  @ApiQuery({ name: 'limit', required: false })
  async changes(@Param('id', new ParseUUIDPipe()) id: string, @Query() query: unknown): Promise<unknown> {
    return this.simulations.changes(id, parse(changesQuery, query, 'query'));
  }
}
