import { describe, expect, it } from '@jest/globals';
import { createLogger } from '@provisio/observability';
import type { Database } from '@provisio/persistence';
import { Writable } from 'node:stream';
import { z } from 'zod';
import {
  ConnectorError,
  ConnectorErrorCode,
  ParkedCommandDrainer,
  TargetRegistry,
  TargetRuntime,
  commonTargetShape,
  type CommandProcessor,
  type ParkedCommandsRepository,
  type TargetConnector,
} from '../src/index.js';

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const target = (over: Record<string, unknown> = {}) => z.object(commonTargetShape).parse({ id: 't1', ...over });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connector(ping: () => Promise<void>): TargetConnector {
  const no = async (): Promise<never> => {
    throw new Error('not used');
  };
  return { ping, readAccount: no, createAccount: no, updateAccount: no, enableAccount: no, disableAccount: no, deleteAccount: no, listAccounts: no, addGroupMembership: no, removeGroupMembership: no, listGroups: no, close: async () => undefined };
}

describe('TargetRuntime: a timed-out call keeps its concurrency slot', () => {
  it('the next call waits until the timed-out one has settled on the target', async () => {
    const rt = new TargetRuntime(target({ concurrency: 1, callTimeoutMs: 200 }), 'test', connector(async () => undefined), silent);
    let firstSettledAt = 0;
    const slow = () => sleep(300).then(() => void (firstSettledAt = Date.now()));
    await expect(rt.call('update', slow)).rejects.toMatchObject({ code: 'TARGET_TIMEOUT' });
    let secondStartedAt = 0;
    await rt.call('read', async () => void (secondStartedAt = Date.now()));
    expect(firstSettledAt).toBeGreaterThan(0);
    expect(secondStartedAt).toBeGreaterThanOrEqual(firstSettledAt);
    await rt.close();
  });

  it('but not forever: a call that never settles frees its slot after another callTimeoutMs', async () => {
    const rt = new TargetRuntime(target({ concurrency: 1, callTimeoutMs: 50 }), 'test', connector(async () => undefined), silent);
    await expect(rt.call('update', () => new Promise<void>(() => undefined))).rejects.toMatchObject({ code: 'TARGET_TIMEOUT' });
    const t0 = Date.now();
    await expect(rt.call('read', async () => 'ok')).resolves.toBe('ok');
    expect(Date.now() - t0).toBeLessThan(1000);
    await rt.close();
  });
});

describe('ParkedCommandDrainer: a quarantined target with nothing parked is probed on the timer', () => {
  it('closes the breaker by itself once the target answers, without any command', async () => {
    let up = false;
    let pings = 0;
    const registry = new TargetRegistry('test', [{ config: target({ breaker: { consecutiveFailures: 1, openSeconds: 0.05, maxOpenSeconds: 0.1 } }), connector: connector(async () => void pings++) }], silent);
    const rt = registry.get('t1')!;
    await expect(
      rt.call('read', async () => {
        throw new ConnectorError(ConnectorErrorCode.Unavailable, 'down');
      }),
    ).rejects.toMatchObject({ code: 'TARGET_UNAVAILABLE' });
    expect(rt.breaker.state).toBe('open');
    (rt.connector as { ping: () => Promise<void> }).ping = async () => {
      pings++;
      if (!up) throw new ConnectorError(ConnectorErrorCode.Unavailable, 'still down');
    };
    const parked = { counts: async () => new Map() } as unknown as ParkedCommandsRepository;
    const processor = { onParked: () => undefined } as unknown as CommandProcessor;
    const drainer = new ParkedCommandDrainer({ sql: {} } as unknown as Database, parked, processor, registry, silent, { pollMs: 20 });
    drainer.start();
    try {
      await sleep(300);
      expect(pings).toBeGreaterThan(0);
      expect(rt.breaker.state).not.toBe('closed');
      up = true;
      const deadline = Date.now() + 3000;
      while (rt.breaker.state !== 'closed' && Date.now() < deadline) await sleep(20);
      expect(rt.breaker.state).toBe('closed');
    } finally {
      await drainer.stop();
      await registry.close();
    }
  });
});
