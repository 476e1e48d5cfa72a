import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import type { SignedCheckpoint, VerificationReport } from '@provisio/audit-domain';
import { z } from 'zod';
import { CHAIN_SERVICE, type ChainService } from '../chain/chain.service.js';
import { limitSchema, parse } from './params.js';

const pos = z.coerce.number().int().min(1);
const verifyQuery = z.object({ fromSeq: pos.optional(), toSeq: pos.optional() }).refine((q) => !q.fromSeq || !q.toSeq || q.fromSeq <= q.toSeq, { message: 'fromSeq must not be after toSeq', path: ['fromSeq'] });
const listQuery = z.object({ afterId: z.coerce.number().int().min(0).default(0), limit: limitSchema(1000, 100) });

@ApiTags('audit: verification')
@ApiBearerAuth()
@Controller('v1')
export class VerificationController {
  constructor(@Inject(CHAIN_SERVICE) private readonly chain: ChainService) {}

  @Get('verification')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({
    summary: 'Verify the hash chain',
    description:
      'Recomputes every record hash and index column from the retention anchor (or the last checkpoint before fromSeq), checks every signed checkpoint, and compares the end with the position ledger and the newest checkpoint. Problems: modified, deleted, inserted, reordered, truncated, checkpoint-mismatch, bad-signature; firstBadPosition is the earliest.',
  })
  @ApiQuery({ name: 'fromSeq', required: false }) @ApiQuery({ name: 'toSeq', required: false })
  @ApiOkResponse({ description: 'VerificationReport' })
  async verify(@Query() query: unknown): Promise<VerificationReport> {
    return this.chain.verify(parse(verifyQuery, query, 'query'));
  }

  @Get('checkpoints')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({ summary: 'Signed checkpoints (periodic, and retention anchors), oldest first' })
  @ApiQuery({ name: 'afterId', required: false }) @ApiQuery({ name: 'limit', required: false })
  async checkpoints(@Query() query: unknown): Promise<{ items: (SignedCheckpoint & { id: number })[]; nextAfterId: number | null }> {
    const q = parse(listQuery, query, 'query');
    const items = await this.chain.listCheckpoints({ afterId: q.afterId, limit: q.limit });
    return { items, nextAfterId: items.length === q.limit ? items.at(-1)!.id : null };
  }

  @Get('checkpoints/public-key')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({ summary: 'The public key (PEM) of the current checkpoint signing key and its key id' })
  publicKey(): { keyId: string; algorithm: 'Ed25519'; publicKeyPem: string } {
    return { keyId: this.chain.keyId, algorithm: 'Ed25519', publicKeyPem: this.chain.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
}
