import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Patch, Post, Put, Query, Req, Res, type RawBodyRequest } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import {
  SCIM_MEDIA_TYPE,
  ScimError,
  URN,
  etagOf,
  parseBulkRequest,
  projectAttributes,
  resourceTypeResources,
  schemaResources,
  serviceProviderConfig,
} from '@provisio/hr-ingest-scim';
import type { Request, Response } from 'express';
import type { HrIngestSettings } from '../config.js';
import { mediaTypeOf } from '../http/api-errors.js';
import { SETTINGS } from '../tokens.js';
import { scimBaseUrl } from './scim-base-url.js';
import { ScimUsersService, type ScimResult } from './scim-users.service.js';

const ACCEPTED = ['application/scim+json', 'application/json'];

function requireScimJson(contentType: string | undefined): void {
  if (!ACCEPTED.includes(mediaTypeOf(contentType) ?? '')) {
    throw new ScimError(415, undefined, `content type ${contentType ? `"${contentType}"` : '(none)'} is not accepted; send application/scim+json or application/json`);
  }
}

function send(res: Response, status: number, body: unknown, extra: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  res.status(status).type(SCIM_MEDIA_TYPE).send(JSON.stringify(body));
}

/**
 * SCIM 2.0 service provider (RFC 7643/7644) for HR systems that push workers: Users (create,
 * replace, patch, delete, get, list with filter and pagination), Bulk as Microsoft Entra
 * API-driven inbound provisioning sends it, and the discovery endpoints. Reads need hr:read,
 * writes hr:write. Errors use the SCIM error schema.
 */
@ApiTags('scim')
@ApiBearerAuth()
@Controller('scim/v2')
export class ScimController {
  constructor(
    private readonly users: ScimUsersService,
    @Inject(SETTINGS) private readonly settings: HrIngestSettings,
  ) {}

  private base(req: Request): string {
    return scimBaseUrl(req, this.settings.SCIM_BASE_URL);
  }

  private reply(res: Response, r: ScimResult, attributes?: string, excluded?: string): void {
    const headers: Record<string, string> = {};
    if (r.person) headers['ETag'] = etagOf(r.person.version);
    if (r.status === 201 && r.resource) headers['Location'] = String((r.resource['meta'] as { location: string }).location);
    send(res, r.status, projectAttributes(r.resource ?? {}, attributes, excluded), headers);
  }

  @Post('Bulk')
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({
    summary: 'SCIM BulkRequest of Users (POST = upsert by externalId, PUT, PATCH, DELETE); answers a BulkResponse with each operation’s status',
    description: 'At most SCIM_BULK_MAX_OPERATIONS operations (413 beyond) and SCIM_BULK_MAX_PAYLOAD_BYTES bytes. Operations on the same worker twice are all refused (409 uniqueness).',
  })
  @ApiBody({ schema: { type: 'object', required: ['schemas', 'Operations'], properties: { schemas: { type: 'array', items: { type: 'string', enum: [URN.bulkRequest] } }, failOnErrors: { type: 'integer' }, Operations: { type: 'array', items: { type: 'object' } } } } })
  @ApiResponse({ status: 200, description: 'BulkResponse' })
  @ApiResponse({ status: 413, description: 'Too many operations or too large a payload' })
  async bulk(@Req() req: RawBodyRequest<Request>, @Res() res: Response, @Headers('content-type') contentType: string | undefined, @Body() body: unknown): Promise<void> {
    requireScimJson(contentType);
    const size = req.rawBody?.length ?? 0;
    if (size > this.settings.SCIM_BULK_MAX_PAYLOAD_BYTES) {
      throw new ScimError(413, undefined, `the request has ${size} bytes; at most ${this.settings.SCIM_BULK_MAX_PAYLOAD_BYTES} (bulk.maxPayloadSize) are accepted`);
    }
    const parsed = parseBulkRequest(body, this.settings.SCIM_BULK_MAX_OPERATIONS);
    const operations = await this.users.bulk(parsed.operations, parsed.failOnErrors, this.base(req));
    send(res, 200, { schemas: [URN.bulkResponse], Operations: operations });
  }

  @Post('Users')
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Create a User (a worker; externalId = worker id). 409 uniqueness when that externalId exists.' })
  @ApiResponse({ status: 201, description: 'The User, with Location and ETag' })
  async create(@Req() req: Request, @Res() res: Response, @Headers('content-type') contentType: string | undefined, @Body() body: unknown): Promise<void> {
    requireScimJson(contentType);
    this.reply(res, await this.users.create(body, this.base(req)));
  }

  @Get('Users')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'List Users: filter (RFC 7644 §3.4.2.2), startIndex, count, attributes, excludedAttributes' })
  @ApiQuery({ name: 'filter', required: false, example: 'userName eq "bjensen@example.com"' })
  @ApiQuery({ name: 'startIndex', required: false })
  @ApiQuery({ name: 'count', required: false })
  async list(
    @Req() req: Request,
    @Res() res: Response,
    @Query('filter') filter?: string,
    @Query('startIndex') startIndex?: string,
    @Query('count') count?: string,
    @Query('attributes') attributes?: string,
    @Query('excludedAttributes') excluded?: string,
  ): Promise<void> {
    const page = await this.users.list({ filter, startIndex, count }, this.base(req));
    send(res, 200, {
      schemas: [URN.listResponse],
      totalResults: page.totalResults,
      startIndex: page.startIndex,
      itemsPerPage: page.itemsPerPage,
      Resources: page.resources.map((r) => projectAttributes(r, attributes, excluded)),
    });
  }

  @Get('Users/:id')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'One User by id (the personId)' })
  @ApiParam({ name: 'id', description: 'personId' })
  async get(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Query('attributes') attributes?: string, @Query('excludedAttributes') excluded?: string): Promise<void> {
    this.reply(res, await this.users.get(id, this.base(req)), attributes, excluded);
  }

  @Put('Users/:id')
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Replace a User: attributes sent replace, attributes absent stay unchanged (RFC 7644 §3.5.1 "not asserted"), null clears; If-Match honoured' })
  async replace(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Headers('content-type') contentType: string | undefined, @Headers('if-match') ifMatch: string | undefined, @Body() body: unknown): Promise<void> {
    requireScimJson(contentType);
    this.reply(res, await this.users.replace(id, body, this.base(req), ifMatch));
  }

  @Patch('Users/:id')
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Modify a User with a PatchOp (add, replace, remove; paths with filters; Entra spellings accepted); If-Match honoured' })
  async patch(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Headers('content-type') contentType: string | undefined, @Headers('if-match') ifMatch: string | undefined, @Body() body: unknown): Promise<void> {
    requireScimJson(contentType);
    this.reply(res, await this.users.patch(id, body, this.base(req), ifMatch));
  }

  @Delete('Users/:id')
  @HttpCode(204)
  @RequireScopes(Scopes.hrWrite)
  @ApiOperation({ summary: 'Delete a User: a LEAVER now; the person record stays (a later create with the same externalId is a REHIRE, same personId)' })
  async remove(@Param('id') id: string, @Headers('if-match') ifMatch: string | undefined): Promise<void> {
    await this.users.remove(id, ifMatch);
  }

  @Get('ServiceProviderConfig')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'SCIM service provider configuration (RFC 7643 §5)' })
  serviceProviderConfig(@Req() req: Request, @Res() res: Response): void {
    send(
      res,
      200,
      serviceProviderConfig(this.base(req), {
        maxOperations: this.settings.SCIM_BULK_MAX_OPERATIONS,
        maxPayloadSize: this.settings.SCIM_BULK_MAX_PAYLOAD_BYTES,
        maxResults: this.settings.SCIM_MAX_RESULTS,
        documentationUri: `${this.base(req).replace(/\/scim\/v2$/, '')}/docs`,
      }),
    );
  }

  @Get('Schemas')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'The schemas of User and its extensions (RFC 7643 §7), as a ListResponse' })
  schemas(@Req() req: Request, @Res() res: Response): void {
    const all = schemaResources(this.base(req));
    send(res, 200, { schemas: [URN.listResponse], totalResults: all.length, startIndex: 1, itemsPerPage: all.length, Resources: all });
  }

  @Get('Schemas/:id')
  @RequireScopes(Scopes.hrRead)
  schema(@Req() req: Request, @Res() res: Response, @Param('id') id: string): void {
    const s = schemaResources(this.base(req)).find((x) => String(x['id']).toLowerCase() === id.toLowerCase());
    if (!s) throw new ScimError(404, undefined, `no schema ${id}`);
    send(res, 200, s);
  }

  @Get('ResourceTypes')
  @RequireScopes(Scopes.hrRead)
  @ApiOperation({ summary: 'Resource types (RFC 7643 §6), as a ListResponse' })
  resourceTypes(@Req() req: Request, @Res() res: Response): void {
    const all = resourceTypeResources(this.base(req));
    send(res, 200, { schemas: [URN.listResponse], totalResults: all.length, startIndex: 1, itemsPerPage: all.length, Resources: all });
  }

  @Get('ResourceTypes/:id')
  @RequireScopes(Scopes.hrRead)
  resourceType(@Req() req: Request, @Res() res: Response, @Param('id') id: string): void {
    const t = resourceTypeResources(this.base(req)).find((x) => String(x['id']).toLowerCase() === id.toLowerCase());
    if (!t) throw new ScimError(404, undefined, `no resource type ${id}`);
    send(res, 200, t);
  }
}
