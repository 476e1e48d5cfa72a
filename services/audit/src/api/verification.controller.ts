import { Controller, Get, Inject, Query, ServiceUnavailableException } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import type { SignedCheckpoint, VerificationReport } from '@provisio/audit-domain';
import { z } from 'zod';
import { CHAIN_SERVICE, type ChainService } from '../chain/chain.service.js';
import { KafkaEvidenceUnavailable, kafkaChecksProblem, type KafkaEvidence } from '../chain/kafka-evidence.js';
import { limitSchema, parse } from './params.js';

const pos = z.coerce.number().int().min(1);
const flag = z.enum(['true', 'false']).transform((v) => v === 'true').default(false);
const verifyQuery = z
  .object({ fromSeq: pos.optional(), toSeq: pos.optional(), kafkaCheckpoints: flag, kafkaOffsets: flag })
  .refine((q) => !q.fromSeq || !q.toSeq || q.fromSeq <= q.toSeq, { message: 'fromSeq must not be after toSeq', path: ['fromSeq'] })
  .superRefine((q, ctx) => {
    const problem = kafkaChecksProblem(q, { offsets: q.kafkaOffsets });
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['kafkaOffsets'] });
  });
const listQuery = z.object({ afterId: z.coerce.number().int().min(0).default(0), limit: limitSchema(1000, 100) });

export const KAFKA_EVIDENCE = Symbol('KAFKA_EVIDENCE');

@ApiTags('audit: verification')
@ApiBearerAuth()
@Controller('v1')
export class VerificationController {
  constructor(
    @Inject(CHAIN_SERVICE) private readonly chain: ChainService,
    @Inject(KAFKA_EVIDENCE) private readonly kafka: KafkaEvidence,
  ) {}

  @Get('verification')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({
    summary: 'Verify the hash chain',
    description:
      'Recomputes every record hash and index column from the retention anchor (or the last checkpoint before fromSeq), checks every signed checkpoint, and compares the end with the position ledger and the newest checkpoint. Problems: modified, deleted, inserted, reordered, truncated, checkpoint-mismatch, bad-signature; firstBadPosition is the earliest. ' +
      'kafkaCheckpoints=true also holds the signed checkpoints published to audit.checkpoints against the chain (a tail cut together with the stored checkpoints shows as truncated); ' +
      'kafkaOffsets=true also compares the position ledger with the offsets the audit consumer group committed (a record missing from the end of a partition shows as truncated, one missing inside a partition as deleted, naming topic, partition and offsets; not with toSeq). ' +
      'Both are the checks of provisio-audit verify --kafka-checkpoints / --kafka-offsets; 503 when Kafka cannot be read.',
  })
  @ApiQuery({ name: 'fromSeq', required: false }) @ApiQuery({ name: 'toSeq', required: false })
  @ApiQuery({ name: 'kafkaCheckpoints', required: false, enum: ['true', 'false'] }) @ApiQuery({ name: 'kafkaOffsets', required: false, enum: ['true', 'false'] })
  @ApiOkResponse({ description: 'VerificationReport' })
  async verify(@Query() query: unknown): Promise<VerificationReport> {
    const q = parse(verifyQuery, query, 'query');
    const range = { fromSeq: q.fromSeq, toSeq: q.toSeq };
    if (!q.kafkaCheckpoints && !q.kafkaOffsets) return this.chain.verify(range);
    try {
      return await this.chain.verify(await this.kafka.verifyOptions(range, { checkpoints: q.kafkaCheckpoints, offsets: q.kafkaOffsets }));
    } catch (e) {
      if (e instanceof KafkaEvidenceUnavailable) throw new ServiceUnavailableException(e.message);
      throw e;
    }
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
