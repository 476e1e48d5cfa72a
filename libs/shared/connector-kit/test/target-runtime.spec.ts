import { describe, expect, it } from '@jest/globals';
import { createLogger } from '@provisio/observability';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { ConnectorError, ConnectorErrorCode, TargetRuntime, commonTargetShape, secretSchema, targetsEnv, type TargetConnector } from '../src/index.js';

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const target = (over: Record<string, unknown> = {}) => z.object(commonTargetShape).parse({ id: 't1', ...over });

function fakeConnector(ping: () => Promise<void> = async () => undefined): TargetConnector {
  const no = async (): Promise<never> => {
    throw new Error('not used');
  };
  return { ping, readAccount: no, createAccount: no, updateAccount: no, enableAccount: no, disableAccount: no, deleteAccount: no, listAccounts: no, addGroupMembership: no, removeGroupMembership: no, listGroups: no, close: async () => undefined };
}

describe('TargetRuntime', () => {
  it('quarantines after N consecutive transport failures: later calls are refused without reaching the target', async () => {
    let now = 0;
    const rt = new TargetRuntime(target({ breaker: { consecutiveFailures: 2, openSeconds: 10 } }), 'test', fakeConnector(), silent, {}, false, () => now);
    let calls = 0;
    const down = async () => {
      calls++;
      throw new ConnectorError(ConnectorErrorCode.Unavailable, 'connection refused');
    };
    await expect(rt.call('read', down)).rejects.toMatchObject({ code: 'TARGET_UNAVAILABLE' });
    await expect(rt.call('read', down)).rejects.toMatchObject({ code: 'TARGET_UNAVAILABLE' });
    await expect(rt.call('read', down)).rejects.toMatchObject({ code: 'TARGET_QUARANTINED', retriable: true, retryAfterMs: 10_000 });
    expect(calls).toBe(2);
    expect(rt.status().quarantine).toMatchObject({ state: 'open', reason: '2 consecutive failures, last: TARGET_UNAVAILABLE' });
    await expect(rt.health()).rejects.toThrow(/quarantined since/);

    // After the period: a probe (ping) and then the call; success resumes by itself.
    now = 10_000;
    let pinged = 0;
    (rt.connector as { ping: () => Promise<void> }).ping = async () => void pinged++;
    await expect(rt.call('read', async () => 'ok')).resolves.toBe('ok');
    expect(pinged).toBe(1);
    expect(rt.status().quarantine.state).toBe('closed');
    await rt.close();
  });

  it('does not count refusals of bad data against the target', async () => {
    const rt = new TargetRuntime(target({ breaker: { consecutiveFailures: 1 } }), 'test', fakeConnector(), silent);
    for (let i = 0; i < 3; i++) await expect(rt.call('create', async () => Promise.reject(new ConnectorError(ConnectorErrorCode.Rejected, 'bad value')))).rejects.toMatchObject({ retriable: false });
    expect(rt.status().quarantine.state).toBe('closed');
    await rt.close();
  });

  it('honours Retry-After of a 429: no call goes out before it has passed', async () => {
    let now = 1_000;
    const rt = new TargetRuntime(target({ rateLimit: { perSecond: 1000, burst: 10 } }), 'test', fakeConnector(), silent, {}, false, () => now);
    await expect(rt.call('read', async () => Promise.reject(new ConnectorError(ConnectorErrorCode.RateLimited, '429', { retryAfterMs: 3000 })))).rejects.toMatchObject({ code: 'TARGET_RATE_LIMITED' });
    expect(rt.status().rateLimitedUntil).toBe(new Date(4_000).toISOString());
    let ran = false;
    const pending = rt.call('read', async () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(ran).toBe(false);
    now = 4_000;
    await pending;
    expect(ran).toBe(true);
    expect(rt.status().quarantine.state).toBe('closed');
    await rt.close();
  });

  it('a call that waited for a concurrency slot while a 429 came in waits for its Retry-After too', async () => {
    let now = 1_000;
    const rt = new TargetRuntime(target({ concurrency: 1 }), 'test', fakeConnector(), silent, {}, false, () => now);
    let answer429: () => void = () => undefined;
    const first = rt.call('read', () => new Promise((_, reject) => (answer429 = () => reject(new ConnectorError(ConnectorErrorCode.RateLimited, '429', { retryAfterMs: 3000 })))));
    first.catch(() => undefined);
    let ran = false;
    // Admitted while nothing was paused; now waiting for the one slot.
    const second = rt.call('read', async () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    answer429();
    await expect(first).rejects.toMatchObject({ code: 'TARGET_RATE_LIMITED' });
    await new Promise((r) => setTimeout(r, 100));
    expect(ran).toBe(false);
    now = 4_000;
    await second;
    expect(ran).toBe(true);
    await rt.close();
  });

  it('turns a slow call into a transient timeout', async () => {
    const rt = new TargetRuntime(target({ callTimeoutMs: 20 }), 'test', fakeConnector(), silent);
    await expect(rt.call('read', () => new Promise((r) => setTimeout(r, 500)))).rejects.toMatchObject({ code: 'TARGET_TIMEOUT', retriable: true });
    await rt.close();
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    const rt = new TargetRuntime(target({ concurrency: 2 }), 'test', fakeConnector(), silent);
    let inFlight = 0;
    let max = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        rt.call('read', async () => {
          max = Math.max(max, ++inFlight);
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
        }),
      ),
    );
    expect(max).toBe(2);
    await rt.close();
  });
});

describe('CONNECTOR_TARGETS', () => {
  const schema = (env: Record<string, string>) => targetsEnv({ url: z.string().url(), password: secretSchema(env) });

  it('reads JSON or YAML, applies defaults and resolves secrets from other variables', () => {
    const parsed = schema({ PW: 's3cret' }).parse('- id: a\n  url: http://x\n  password: { env: PW }\n');
    expect(parsed).toEqual([expect.objectContaining({ id: 'a', password: 's3cret', concurrency: 8, breaker: expect.objectContaining({ consecutiveFailures: 5 }), reconcile: expect.objectContaining({ mode: 'report' }) })]);
  });

  it('names the target, the field and the rule of every problem', () => {
    const r = schema({}).safeParse(JSON.stringify([{ id: 'a', url: 'nope', password: { env: 'MISSING' } }, { id: 'a', url: 'http://x', password: 'p', concurrency: 0 }]));
    expect(r.success).toBe(false);
    const messages = r.error!.issues.map((i) => i.message);
    expect(messages).toEqual(
      expect.arrayContaining([expect.stringMatching(/^targets\[0\]\.url: /), expect.stringMatching(/^targets\[0\]\.password: environment variable MISSING/), expect.stringMatching(/^targets\[1\]\.concurrency: /)]),
    );
    expect(schema({}).safeParse('{not yaml: [').error!.issues[0]!.message).toMatch(/not valid JSON or YAML/);
  });

  it('is required (a connector without targets would fail every command), and "[]" explicitly serves none', () => {
    expect(schema({}).safeParse(undefined).error!.issues[0]!.message).toMatch(/^not set: the targets this connector serves/);
    expect(schema({}).parse('[]')).toEqual([]);
  });

  it('refuses the same id twice', () => {
    const r = schema({}).safeParse(JSON.stringify([{ id: 'a', url: 'http://x', password: 'p' }, { id: 'a', url: 'http://y', password: 'p' }]));
    expect(r.error!.issues.map((i) => i.message)).toContain('targets: id "a" is defined twice');
  });
});
