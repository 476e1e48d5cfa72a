import { ConnectorError, ConnectorErrorCode } from '@provisio/connector-kit';
import { isTransientDatabaseError } from '@provisio/persistence';

/**
 * PostgreSQL errors → connector errors. Connection trouble, overload, concurrent catalog updates
 * and races are transient (the next attempt re-reads and converges); privileges, dependencies and
 * bad values are permanent.
 */
/**
 * PostgreSQL's message without the identifiers it quotes: they are role names — a person's account
 * name in `role "…" already exists` — or objects named after them. The SQLSTATE stays.
 */
export function postgresMessage(e: unknown): string {
  const text = (e as Error)?.message ?? String(e);
  const code = (e as { code?: unknown })?.code;
  return `${text.replace(/"[^"]*"/g, '"…"')}${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}`;
}

export function fromPostgresError(e: unknown, what: string): ConnectorError {
  if (e instanceof ConnectorError) return e;
  const code = (e as { code?: unknown }).code;
  const message = `${what}: ${postgresMessage(e)}`;
  // A statement cancelled by its statement_timeout, or a query the client stopped waiting for: a timeout, retried.
  if (code === '57014' || /Query read timeout/i.test((e as Error)?.message ?? '')) return new ConnectorError(ConnectorErrorCode.Timeout, message, { cause: e });
  if (isTransientDatabaseError(e)) return new ConnectorError(ConnectorErrorCode.Unavailable, message, { cause: e });
  if (typeof code !== 'string') return new ConnectorError(ConnectorErrorCode.Unavailable, message, { cause: e });
  // duplicate_object (CREATE ROLE / RENAME TO a taken name): the kit re-reads; a race converges, anything else fails the command.
  if (code === '42710') return new ConnectorError(ConnectorErrorCode.AlreadyExists, message, { cause: e });
  if (code === '23505' || code.startsWith('XX') || code === '55006') {
    // Created concurrently, "tuple concurrently updated", object in use: re-read and try again.
    return new ConnectorError(ConnectorErrorCode.Unavailable, message, { cause: e });
  }
  if (code === '42501' || code === '28000' || code === '28P01') return new ConnectorError(ConnectorErrorCode.Unauthorized, message, { cause: e });
  return new ConnectorError(ConnectorErrorCode.Rejected, message, { cause: e });
}
