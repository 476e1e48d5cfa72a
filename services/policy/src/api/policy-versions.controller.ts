import { Body, Controller, Get, HttpCode, Param, ParseIntPipe, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import { Database } from '@provisio/persistence';
import { POLICY_JSON_SCHEMA } from '@provisio/policy-domain';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { Inject } from '@nestjs/common';
import { LiveWork } from '../engine/live-work.js';
import { Reevaluator } from '../engine/reevaluator.js';
import { PERSON_STATE, POLICY_CONFIG } from '../engine/tokens.js';
import type { PersonStateRepository } from '../engine/person-state.repository.js';
import type { PolicyConfig } from '../config.js';
import { BUNDLED_POLICY } from '../engine/policy-runtime.js';
import { PolicyApiError } from '../policy/policy-api-error.js';
import { PolicyStore, readPolicyPath } from '../policy/policy-store.js';
import { parse, policyBodySchema, readPolicyUpload } from './http.js';
import { actorOf } from './principal.js';

const reasonBody = z.object({ reason: z.string().min(1).max(2000).optional() }).strict();
const rollbackBody = z
  .object({
    reason: z.string().min(1).max(2000).optional(),
    toVersion: z.number().int().positive().optional().describe('A version active earlier in the activation history (default: the one before the current)'),
  })
  .strict();
const bodyDoc = { schema: z.toJSONSchema(policyBodySchema, { io: 'input' }) as Record<string, unknown> };

@ApiTags('policy')
@ApiBearerAuth()
@Controller('v1/policy')
export class PolicyVersionsController {
  constructor(
    private readonly db: Database,
    private readonly store: PolicyStore,
    private readonly reevaluator: Reevaluator,
    private readonly live: LiveWork,
    @Inject(PERSON_STATE) private readonly persons: PersonStateRepository,
    @Inject(POLICY_CONFIG) private readonly config: PolicyConfig,
  ) {}

  @Get('schema')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'The JSON Schema of policy files (for editors and CI checks)' })
  schema(): unknown {
    return POLICY_JSON_SCHEMA;
  }

  @Get('active')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'The active version and the progress of re-evaluating the population for it' })
  async active(): Promise<unknown> {
    const version = await this.store.activeVersion(this.db.sql);
    if (version === null) throw new PolicyApiError('NO_ACTIVE_POLICY', 'no policy version is active', 404);
    const [total, stale, activations] = await Promise.all([
      this.persons.count(this.db.sql),
      this.persons.countStale(this.db.sql, version),
      this.store.activations(this.db.sql, 20),
    ]);
    return {
      version,
      reevaluation: { persons: total, done: total - stale, remaining: stale, complete: stale === 0 },
      activations,
    };
  }

  @Get('versions')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'Every policy version, newest first' })
  async list(): Promise<unknown> {
    return { versions: await this.store.list(this.db.sql) };
  }

  @Get('versions/:version')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'One version with its files' })
  @ApiResponse({ status: 404, description: 'No such version' })
  async show(@Param('version', ParseIntPipe) version: number): Promise<unknown> {
    const v = await this.store.get(this.db.sql, version);
    if (!v) throw new PolicyApiError('VERSION_NOT_FOUND', `policy version ${version} does not exist`, 404);
    return v;
  }

  @Post('validate')
  @HttpCode(200)
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({ summary: 'Validate a candidate policy without storing it: every problem with file, line, column, path and rule' })
  @ApiConsumes('application/json', 'application/yaml')
  @ApiBody(bodyDoc)
  @ApiQuery({ name: 'name', required: false, description: 'File name for a raw YAML body' })
  async validate(@Req() req: IncomingMessage, @Query('name') name?: string): Promise<unknown> {
    const upload = await readPolicyUpload(req, { name });
    const r = this.store.validate(upload.files);
    return r.ok
      ? {
          valid: true,
          problems: [],
          summary: {
            name: r.policy.name,
            targets: r.policy.targets.length,
            roles: r.policy.roles.size,
            birthright: r.policy.birthright.length,
            sod: r.policy.sod.length,
          },
        }
      : { valid: false, problems: r.problems };
  }

  @Post('versions')
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({ summary: 'Store a new version after validation (422 with every problem when invalid; nothing changes). ?activate=true activates it.' })
  @ApiConsumes('application/json', 'application/yaml')
  @ApiBody(bodyDoc)
  @ApiQuery({ name: 'activate', required: false, type: Boolean })
  @ApiResponse({ status: 201, description: 'Stored (created: false when identical to the latest version)' })
  @ApiResponse({ status: 422, description: 'Invalid policy; problems name file, line, column, path and rule' })
  async create(
    @Req() req: IncomingMessage,
    @CurrentPrincipal() principal: Principal | undefined,
    @Query('activate') activate?: string,
    @Query('name') name?: string,
    @Query('comment') comment?: string,
  ): Promise<unknown> {
    const upload = await readPolicyUpload(req, { name, comment });
    const actor = actorOf(principal);
    const result = await this.live.run(() =>
      this.db.transaction(async (tx) => {
        const created = await this.store.create(tx.sql, upload.files, { source: 'api', actor, comment: upload.comment });
        const activation = activate === 'true' ? await this.store.activate(tx.sql, created.version, { kind: 'activate', actor, reason: upload.comment }) : null;
        return { ...created, activation };
      }),
    );
    if (result.activation) this.reevaluator.nudge();
    return result;
  }

  @Post('versions/:version/activate')
  @HttpCode(200)
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({ summary: 'Activate a stored version; the population is re-evaluated in the background (progress: GET /v1/policy/active)' })
  @ApiBody({ schema: z.toJSONSchema(reasonBody) as Record<string, unknown>, required: false })
  async activate(
    @Param('version', ParseIntPipe) version: number,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal | undefined,
  ): Promise<unknown> {
    const { reason } = parse(reasonBody, body ?? {}, 'body');
    const activation = await this.db.transaction((tx) => this.store.activate(tx.sql, version, { kind: 'activate', actor: actorOf(principal), reason }));
    this.reevaluator.nudge();
    return activation;
  }

  @Post('rollback')
  @HttpCode(200)
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({
    summary: "Activate the version that was active before the current one's activation",
    description:
      'Walks back the activation history: v1, v2, v3 active in turn, then rollback → v2, rollback → v1. toVersion picks an earlier version of that history.',
  })
  @ApiBody({ schema: z.toJSONSchema(rollbackBody) as Record<string, unknown>, required: false })
  @ApiResponse({ status: 409, description: 'No earlier version to roll back to, or toVersion was not active before the current one' })
  async rollback(@Body() body: unknown, @CurrentPrincipal() principal: Principal | undefined): Promise<unknown> {
    const { reason, toVersion } = parse(rollbackBody, body ?? {}, 'body');
    const activation = await this.db.transaction((tx) => this.store.rollback(tx.sql, { actor: actorOf(principal), reason, toVersion }));
    this.reevaluator.nudge();
    return activation;
  }

  @Post('reload')
  @HttpCode(200)
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({
    summary: 'Re-read POLICY_PATH; when valid and changed it becomes a new active version (422 with every problem otherwise; the running version stays)',
  })
  @ApiResponse({ status: 409, description: 'POLICY_PATH cannot be read (missing file or folder, no *.yaml files); the running version stays' })
  @ApiResponse({ status: 422, description: 'The policy file is invalid; problems name file, line, column, path and rule' })
  async reload(@CurrentPrincipal() principal: Principal | undefined): Promise<unknown> {
    const path = this.config.POLICY_PATH ?? BUNDLED_POLICY;
    const files = await readPolicyPath(path).catch((e: unknown) => {
      const code = (e as { code?: unknown }).code;
      throw new PolicyApiError(
        'POLICY_PATH_UNREADABLE',
        `cannot read the policy at POLICY_PATH '${path}': ${code === 'ENOENT' ? 'no such file or folder' : String((e as Error).message)}; the running version stays active`,
        409,
      );
    });
    if (files.length === 0) {
      throw new PolicyApiError('POLICY_PATH_UNREADABLE', `the folder at POLICY_PATH '${path}' has no *.yaml files; the running version stays active`, 409);
    }
    const actor = actorOf(principal);
    const result = await this.db.transaction(async (tx) => {
      const created = await this.store.create(tx.sql, files, { source: 'file', actor, comment: 'reloaded from POLICY_PATH' });
      const current = await this.store.activeVersion(tx.sql);
      const activation =
        current === created.version ? null : await this.store.activate(tx.sql, created.version, { kind: 'file', actor, reason: 'reloaded from POLICY_PATH' });
      await this.store.markFileLoaded(tx.sql, files);
      return { ...created, activation };
    });
    if (result.activation) this.reevaluator.nudge();
    return result;
  }
}
