export enum ConnectorErrorCode {
  /** Target unreachable, connection reset, 5xx, busy: retried with backoff, counts toward quarantine. */
  Unavailable = 'TARGET_UNAVAILABLE',
  Timeout = 'TARGET_TIMEOUT',
  /** 429 or the target's own throttling: retried after Retry-After, does not count toward quarantine. */
  RateLimited = 'TARGET_RATE_LIMITED',
  /** The kit does not call a quarantined target; the command waits. */
  Quarantined = 'TARGET_QUARANTINED',
  /** The command names a target this service does not serve. */
  UnknownTarget = 'UNKNOWN_TARGET',
  /** The command itself is malformed (missing fields, bad names). */
  InvalidCommand = 'INVALID_COMMAND',
  /** The target refused the data (schema violation, constraint, unsupported attribute). */
  Rejected = 'TARGET_REJECTED',
  /** An account with the desired name exists and belongs to someone else (or to nobody, and adoption is off). */
  NotManaged = 'ACCOUNT_NOT_MANAGED',
  GroupNotFound = 'GROUP_NOT_FOUND',
  /**
   * Credentials or permissions of the connector on the target are wrong (failed bind, 401/403, a
   * refused token). A target-level problem, not the command's: retried like an outage (counts
   * toward quarantine, commands are parked and wait), with its own error class `auth` so alerts
   * tell "credentials" from "down". Resumes by itself once an operator fixes the credentials.
   */
  Unauthorized = 'TARGET_UNAUTHORIZED',
  /**
   * A create or rename was refused because an object with that name already exists (LDAP 68,
   * HTTP 409). The kit re-reads the account: a real race converges again; an object the
   * connector's read cannot find (a colliding DN, a uniqueness constraint elsewhere) makes the
   * command fail permanently (dead letter). Says nothing about the target's health.
   */
  AlreadyExists = 'TARGET_ALREADY_EXISTS',
  Unsupported = 'UNSUPPORTED',
  Configuration = 'CONFIGURATION',
  /** Thrown by connector code without saying what it is (a bug, an unexpected reply): a few attempts, then permanent. */
  Unclassified = 'CONNECTOR_UNCLASSIFIED',
}

export type ConnectorErrorClass = 'transient' | 'rate_limited' | 'auth' | 'permanent';

const TRANSIENT = new Set<ConnectorErrorCode>([ConnectorErrorCode.Unavailable, ConnectorErrorCode.Timeout, ConnectorErrorCode.Quarantined, ConnectorErrorCode.Unauthorized, ConnectorErrorCode.Unclassified]);

/**
 * The one error type of connectors and the kit. `retriable` drives retry versus FAILED result and
 * dead letter (the consumer runner reads the same flag); `retryAfterMs` is the target's or the
 * breaker's own hint of when to try again.
 */
export class ConnectorError extends Error {
  readonly retriable: boolean;

  constructor(
    readonly code: ConnectorErrorCode,
    message: string,
    readonly options: { retryAfterMs?: number; cause?: unknown; status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.retriable = TRANSIENT.has(code) || code === ConnectorErrorCode.RateLimited;
  }

  get retryAfterMs(): number | undefined {
    return this.options.retryAfterMs;
  }

  get errorClass(): ConnectorErrorClass {
    if (this.code === ConnectorErrorCode.RateLimited) return 'rate_limited';
    if (this.code === ConnectorErrorCode.Unauthorized) return 'auth';
    return this.retriable ? 'transient' : 'permanent';
  }

  /** Whether the failure says something about the target's health (feeds the circuit breaker). */
  get countsAgainstTarget(): boolean {
    return this.code === ConnectorErrorCode.Unavailable || this.code === ConnectorErrorCode.Timeout || this.code === ConnectorErrorCode.Unauthorized;
  }
}

/**
 * Classifies anything thrown during a target call. ConnectorErrors say what they are; errors with
 * a `retriable` flag keep it; everything else is Unclassified: retried a few times (it may be a
 * passing glitch), then treated as permanent so a connector bug cannot stall a partition forever.
 */
export function toConnectorError(e: unknown): ConnectorError {
  if (e instanceof ConnectorError) return e;
  const flag = (e as { retriable?: unknown } | null)?.retriable;
  const message = e instanceof Error ? e.message : String(e);
  if (flag === false) return new ConnectorError(ConnectorErrorCode.Rejected, message, { cause: e });
  if (flag === true) return new ConnectorError(ConnectorErrorCode.Unavailable, message, { cause: e });
  return new ConnectorError(ConnectorErrorCode.Unclassified, message, { cause: e });
}

/** Parses an HTTP Retry-After value (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
