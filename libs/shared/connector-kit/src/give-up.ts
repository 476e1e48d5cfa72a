import { ConnectorError, ConnectorErrorCode } from '@provisio/connector-domain';

/** What the give-up rule needs of a target's runtime. */
export interface GiveUpRuntime {
  /** The breaker is closed: the target answers calls. */
  admitsCommands(): boolean;
  config: { breaker: { consecutiveFailures: number }; retry: { maxAttemptsWhileHealthy: number } };
}

/**
 * When a command that keeps failing is this command's problem rather than the target's. Refused
 * credentials and unreachable or slow targets count against the target (quarantine, parking):
 * while the breaker is open nothing here gives up. But when the breaker stays closed over many
 * attempts, the target answers other calls and fails only this command's — an ACL on one entry,
 * a 403 on one resource, a call that times out only for one huge group — and retrying it forever
 * would stall its partition. After `breaker.consecutiveFailures` + 2 refusals, or
 * `retry.maxAttemptsWhileHealthy` transient failures, it becomes permanent: a FAILED result and
 * a dead letter that can be replayed. Rate limiting never gives up (the target asked to wait).
 */
export function givenUpForThisCommand(err: ConnectorError, attempt: number, runtime: GiveUpRuntime): ConnectorError {
  if (!err.retriable || !runtime.admitsCommands()) return err;
  if (err.code === ConnectorErrorCode.Unauthorized && attempt >= runtime.config.breaker.consecutiveFailures + 2) {
    return new ConnectorError(ConnectorErrorCode.Rejected, `permission refused for this command after ${attempt} attempts while the target answered other calls: ${err.message}`, { cause: err });
  }
  if ((err.code === ConnectorErrorCode.Unavailable || err.code === ConnectorErrorCode.Timeout) && attempt >= runtime.config.retry.maxAttemptsWhileHealthy) {
    return new ConnectorError(
      ConnectorErrorCode.Rejected,
      `failed ${attempt} times for this command while the target answered other calls (retry.maxAttemptsWhileHealthy): ${err.message}`,
      { cause: err },
    );
  }
  return err;
}
