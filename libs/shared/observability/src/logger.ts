import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactPii, scrubString } from './redaction.js';
import { activeTraceIds } from './telemetry.js';

export type { Logger } from 'pino';

export interface LoggerConfig {
  service: string;
  level?: string;
  /** Where to write; defaults to stdout. */
  destination?: pino.DestinationStream;
}

function keepSerialized(value: unknown): unknown {
  return value instanceof Error ? redactPii(value) : value;
}

/** JSON logs with trace ids on every line and PII redacted. */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    base: { service: config.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    mixin() {
      const ids = activeTraceIds();
      return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
    },
    // formatters.log (below) already turns errors into redacted plain objects that keep their
    // type; pino's default err serializer would rename them all "Object".
    serializers: { err: keepSerialized, error: keepSerialized },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redactPii(obj) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrubString(a) : a)) as Parameters<typeof method>;
        method.apply(this, scrubbed);
      },
    },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}
