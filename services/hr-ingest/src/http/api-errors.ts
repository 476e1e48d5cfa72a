import { BadRequestException, ConflictException, HttpException, HttpStatus } from '@nestjs/common';
import { toFieldErrors, type FieldError } from '@provisio/hr-ingest-domain';
import type { z } from 'zod';

/** 400 with one entry per problem: the field, the value received, the rule it broke. */
export function invalidInput(message: string, details: readonly FieldError[], code = 'INVALID_INPUT'): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', code, message, details });
}

export function conflict(message: string, details: readonly FieldError[], code: string): ConflictException {
  return new ConflictException({ statusCode: 409, error: 'Conflict', code, message, details });
}

export function unsupportedMediaType(received: string | undefined, expected: readonly string[]): HttpException {
  return new HttpException(
    {
      statusCode: 415,
      error: 'Unsupported Media Type',
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: `content type ${received ? `"${received}"` : '(none)'} is not accepted here; send ${expected.join(' or ')}`,
    },
    HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  );
}

export function payloadTooLarge(limit: number, what = 'request body'): HttpException {
  return new HttpException({ statusCode: 413, error: 'Payload Too Large', code: 'PAYLOAD_TOO_LARGE', message: `the ${what} exceeds ${limit} bytes` }, HttpStatus.PAYLOAD_TOO_LARGE);
}

/** Parses with a zod schema or throws a 400 naming each field (`what.path`), value and rule. */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidInput(`invalid ${what}`, toFieldErrors(r.error, value, what));
  return r.data;
}

/** The media type of a Content-Type header, lower-case, without parameters. */
export function mediaTypeOf(header: string | undefined): string | undefined {
  return header?.split(';')[0]?.trim().toLowerCase() || undefined;
}
