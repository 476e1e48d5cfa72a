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

/**
 * 400 MALFORMED_JSON for a body that is not JSON: the field (`body`), rule `json`, the parser's
 * reason and where it stopped (character `position`, 0-based, with line and column).
 */
export function malformedJson(error: Error, text: string | undefined): BadRequestException {
  const reason = error.message.replace(/\s*\(line \d+ column \d+\)$/, '').replace(/ in JSON at position \d+$/, '');
  const m = /at position (\d+)/.exec(error.message);
  const position = m ? Number(m[1]) : text !== undefined ? jsonErrorPosition(text) : undefined;
  let where = '';
  if (position !== undefined && text !== undefined) {
    const before = text.slice(0, position).split('\n');
    where = ` at position ${position} (line ${before.length} column ${before.at(-1)!.length + 1})`;
  }
  const message = `the body is not valid JSON: ${reason}${where}`;
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    code: 'MALFORMED_JSON',
    message,
    details: [{ field: 'body', rule: 'json', message, ...(position !== undefined ? { position } : {}) }],
  });
}

/**
 * Where a text stops being JSON (the offset of the first character that cannot continue it, or
 * its length when it ends too early); for parser messages that do not say. Undefined when the
 * text is valid or too deeply nested to scan.
 */
export function jsonErrorPosition(text: string): number | undefined {
  let i = 0;
  class Stop extends Error {}
  const fail = (at = i): never => {
    i = at;
    throw new Stop();
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) fail(i - 1);
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c < ' ') fail();
      if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) fail(i + k);
          i += 5;
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
        else fail();
      } else i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > 500) throw new Error('too deep');
    ws();
    const c = text[i];
    if (c === undefined) fail();
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    const n = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!n && c === '-') fail(i + 1);
    if (!n) fail();
    i += n![0].length;
  };
  try {
    value(0);
    ws();
    return i < text.length ? i : undefined;
  } catch (e) {
    return e instanceof Stop ? Math.min(i, text.length) : undefined;
  }
}
