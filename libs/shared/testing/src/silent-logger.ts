import { createLogger, type Logger } from '@provisio/observability';
import { Writable } from 'node:stream';

/** A logger that writes nothing, for code under test that takes one. */
export function silentLogger(): Logger {
  return createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
}
