export enum MessagingErrorCode {
  DecodeFailed = 'MESSAGING_DECODE_FAILED',
  MissingHeader = 'MESSAGING_MISSING_HEADER',
  HandlerFailed = 'MESSAGING_HANDLER_FAILED',
  BrokerUnavailable = 'MESSAGING_BROKER_UNAVAILABLE',
  NotSubscribed = 'MESSAGING_NOT_SUBSCRIBED',
}

/**
 * Errors of the messaging layer. `retriable` tells the consumer runner to retry with backoff
 * (true) or dead-letter at once (false).
 */
export class MessagingError extends Error {
  constructor(
    readonly code: MessagingErrorCode,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MessagingError';
  }
}

export type ErrorClass = 'transient' | 'permanent' | 'unknown';

/** Errors say what they are with a boolean `retriable` (our errors, kafkajs errors). */
export function classifyByFlag(e: unknown): ErrorClass {
  const flag = (e as { retriable?: unknown } | null)?.retriable;
  if (flag === true) return 'transient';
  if (flag === false) return 'permanent';
  return 'unknown';
}
