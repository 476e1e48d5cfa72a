import { describe, expect, it } from '@jest/globals';
import { context, trace } from '@opentelemetry/api';
import { Writable } from 'node:stream';
import { REDACTED, createLogger, redactPii, startTelemetry, tracer } from '../src/index.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ service: 'svc', level: 'debug', destination }) };
}

describe('PII redaction', () => {
  it('replaces PII keys at any depth and masks emails in any string', () => {
    expect(
      redactPii({
        personId: 'p-1',
        attributes: { givenName: 'Ada' },
        nested: { deeper: { email: 'ada@example.com', note: 'mail ada@example.com now', dn: 'uid=ada,ou=people' } },
        list: [{ displayName: 'Ada L' }],
      }),
    ).toEqual({
      personId: 'p-1',
      attributes: REDACTED,
      nested: { deeper: { email: REDACTED, note: 'mail [email] now', dn: REDACTED } },
      list: [{ displayName: REDACTED }],
    });
  });

  it('keeps names, emails and secrets out of log lines', () => {
    const { lines, logger } = capture();
    logger.info({ userName: 'ada.lovelace', password: 'hunter2', department: 'R&D' }, 'created account for ada@example.com');
    logger.error({ err: new Error('bind failed for grace@example.com') }, 'failed');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('ada.lovelace');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('ada@example.com');
    expect(text).not.toContain('grace@example.com');
    expect(lines[0]).toMatchObject({ level: 'info', service: 'svc', department: 'R&D', userName: REDACTED });
    expect(lines[1]!['err']).toMatchObject({ type: 'Error', message: 'bind failed for [email]' });
  });

  it('keeps the class of a logged error', () => {
    const { lines, logger } = capture();
    class ConfigError extends Error {
      override name = 'ConfigError';
    }
    logger.error({ err: new ConfigError('bad') }, 'failed');
    logger.error(new TypeError('plain'));
    expect(lines.map((l) => (l['err'] as { type: string }).type)).toEqual(['ConfigError', 'TypeError']);
  });

  it('puts the active trace and span ids on every line', () => {
    startTelemetry('logging-test');
    const { lines, logger } = capture();
    const span = tracer().startSpan('op');
    context.with(trace.setSpan(context.active(), span), () => logger.info('inside'));
    span.end();
    expect(lines[0]).toMatchObject({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    expect(lines[0]!['trace_id']).toMatch(/^[0-9a-f]{32}$/);
  });
});
