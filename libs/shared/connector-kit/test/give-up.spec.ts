import { describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode } from '@provisio/connector-domain';
import { givenUpForThisCommand, type GiveUpRuntime } from '../src/give-up.js';

const runtime = (breakerClosed: boolean): GiveUpRuntime => ({
  admitsCommands: () => breakerClosed,
  config: { breaker: { consecutiveFailures: 5 }, retry: { maxAttemptsWhileHealthy: 20 } },
});
const error = (code: ConnectorErrorCode) => new ConnectorError(code, 'the call failed');

describe('givenUpForThisCommand', () => {
  it('keeps retrying a transient failure until retry.maxAttemptsWhileHealthy, then fails that command for good while the target answers others', () => {
    for (const code of [ConnectorErrorCode.Unavailable, ConnectorErrorCode.Timeout]) {
      expect(givenUpForThisCommand(error(code), 19, runtime(true)).code).toBe(code);
      const gaveUp = givenUpForThisCommand(error(code), 20, runtime(true));
      expect(gaveUp).toMatchObject({ code: ConnectorErrorCode.Rejected, retriable: false });
      expect(gaveUp.message).toMatch(/^failed 20 times for this command while the target answered other calls \(retry\.maxAttemptsWhileHealthy\): the call failed$/);
    }
  });

  it('never gives up while the target is quarantined: an outage is the target\'s, the command waits', () => {
    for (const code of [ConnectorErrorCode.Unavailable, ConnectorErrorCode.Timeout, ConnectorErrorCode.Unauthorized]) {
      expect(givenUpForThisCommand(error(code), 1000, runtime(false))).toMatchObject({ code, retriable: true });
    }
  });

  it('never gives up on rate limiting: the target asked to wait', () => {
    expect(givenUpForThisCommand(error(ConnectorErrorCode.RateLimited), 1000, runtime(true))).toMatchObject({ code: ConnectorErrorCode.RateLimited, retriable: true });
  });

  it('gives up on a refused permission sooner: after breaker.consecutiveFailures + 2 attempts', () => {
    expect(givenUpForThisCommand(error(ConnectorErrorCode.Unauthorized), 6, runtime(true)).code).toBe(ConnectorErrorCode.Unauthorized);
    expect(givenUpForThisCommand(error(ConnectorErrorCode.Unauthorized), 7, runtime(true)).message).toMatch(/^permission refused for this command after 7 attempts/);
  });

  it('leaves permanent errors as they are', () => {
    const e = error(ConnectorErrorCode.Rejected);
    expect(givenUpForThisCommand(e, 50, runtime(true))).toBe(e);
  });
});
