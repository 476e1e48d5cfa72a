import { BadRequestException } from '@nestjs/common';
import type { PolicyFile } from '@provisio/policy-domain';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';

/** Parses a request part with zod; 400 naming each field, rule and message. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
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

const MAX_POLICY_BYTES = 2 * 1024 * 1024;

const fileName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w.-]+\.ya?ml$/, 'a file name ending in .yaml or .yml');
export const policyBodySchema = z
  .object({
    content: z.string().min(1).max(MAX_POLICY_BYTES).optional().describe('One policy file (YAML)'),
    name: fileName.optional().describe('Its file name, shown in errors (default policy.yaml)'),
    files: z
      .array(z.object({ name: fileName, content: z.string().max(MAX_POLICY_BYTES) }).strict())
      .min(1)
      .max(200)
      .optional()
      .describe('Several policy files, merged'),
    comment: z.string().max(2000).optional(),
  })
  .strict()
  .refine((b) => (b.content === undefined) !== (b.files === undefined), { message: 'give either content or files' });

export interface PolicyUpload {
  files: PolicyFile[];
  comment?: string | undefined;
}

function isYaml(req: IncomingMessage): boolean {
  return /^(application|text)\/(x-)?yaml\b/i.test(req.headers['content-type'] ?? '');
}

/** A policy from the request: JSON ({content} or {files}) or a raw YAML body (application/yaml). */
export async function readPolicyUpload(
  req: IncomingMessage & { body?: unknown },
  query: { name?: string | undefined; comment?: string | undefined },
): Promise<PolicyUpload> {
  if (isYaml(req)) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_POLICY_BYTES)
        throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: `policy larger than ${MAX_POLICY_BYTES} bytes` });
      chunks.push(chunk);
    }
    const name = query.name ? parse(fileName, query.name, 'name') : 'policy.yaml';
    return { files: [{ name, content: Buffer.concat(chunks).toString('utf8') }], comment: query.comment };
  }
  const body = parse(policyBodySchema, req.body, 'body');
  return { files: body.files ?? [{ name: body.name ?? 'policy.yaml', content: body.content! }], comment: body.comment ?? query.comment };
}

export const isoInstant = z
  .string()
  .datetime({ offset: true })
  .transform((v) => Date.parse(v));
