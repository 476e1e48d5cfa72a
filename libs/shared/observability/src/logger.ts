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
