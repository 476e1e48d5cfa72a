import { afterEach, describe, expect, it } from '@jest/globals';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthRegistry, ObservabilityModule, createLogger } from '@provisio/observability';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { ConnectorError, ConnectorErrorCode, TargetRegistry, commonTargetShape, type TargetConnector } from '../src/index.js';

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

function fakeConnector(ping: () => Promise<void>): TargetConnector {
  const no = async (): Promise<never> => {
    throw new Error('not used');
  };
  return { ping, readAccount: no, createAccount: no, updateAccount: no, enableAccount: no, disableAccount: no, deleteAccount: no, listAccounts: no, addGroupMembership: no, removeGroupMembership: no, listGroups: no, close: async () => undefined };
}

/**
 * GET /health/ready of a connector whose target is quarantined: the pod stays ready (a
 * quarantined target is a designed, self-healing state; failing readiness would take every
 * replica out of its Service and with it GET /v1/targets), and the target's state is in the body.
 */
describe('connector readiness with a quarantined or unreachable target', () => {
  let app: INestApplication | undefined;
  let registry: TargetRegistry | undefined;
  afterEach(async () => {
    await registry?.close();
    await app?.close();
  });

  async function start(): Promise<{ url: string; health: HealthRegistry }> {
    @Module({ imports: [ObservabilityModule.forRoot(silent)] })
    class TestModule {}
    app = await NestFactory.create(TestModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    return { url: (await app.getUrl()).replace('[::1]', '127.0.0.1'), health: app.get(HealthRegistry) };
  }

  it('answers 200 `degraded` with the quarantine detail, and still 503 when a check that matters fails', async () => {
    const { url, health } = await start();
    health.register('kafka', async () => undefined);
    let reachable = false;
    const targets = [
      { id: 'quarantined', breaker: { consecutiveFailures: 1, openSeconds: 600 } },
      { id: 'unreachable' },
      { id: 'fine' },
    ].map((t) => ({
      config: z.object(commonTargetShape).parse(t),
      connector: fakeConnector(async () => {
        if (t.id === 'unreachable' && !reachable) throw new Error('connect ECONNREFUSED 10.0.0.9:636');
      }),
    }));
    registry = new TargetRegistry('test', targets, silent, health);
    await expect(registry.get('quarantined')!.call('write', async () => Promise.reject(new ConnectorError(ConnectorErrorCode.Unavailable, 'connection refused')))).rejects.toMatchObject({ code: 'TARGET_UNAVAILABLE' });
    expect(registry.get('quarantined')!.status().quarantine.state).toBe('open');

    const res = await fetch(`${url}/health/ready`);
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 200,
      body: {
        status: 'degraded',
        checks: {
          kafka: { status: 'up', ms: expect.any(Number) },
          'target:quarantined': { status: 'degraded', error: expect.stringMatching(/^quarantined since \S+ \(1 consecutive failures?, last: TARGET_UNAVAILABLE\); next probe \S+; 0 command\(s\) parked$/), ms: expect.any(Number) },
          'target:unreachable': { status: 'degraded', error: 'connect ECONNREFUSED 10.0.0.9:636', ms: expect.any(Number) },
          'target:fine': { status: 'up', ms: expect.any(Number) },
        },
      },
    });
    // Liveness is untouched either way.
    expect((await fetch(`${url}/health/live`)).status).toBe(200);

    // Back to ok once the targets answer (the quarantined one after its probe).
    reachable = true;
    const partial = (await (await fetch(`${url}/health/ready`)).json()) as { checks: Record<string, { status: string }> };
    expect(partial.checks['target:unreachable']!.status).toBe('up');

    // Readiness still fails on what the pod cannot work without.
    health.register('database', async () => {
      throw new Error('connection refused');
    });
    const down = await fetch(`${url}/health/ready`);
    expect({ status: down.status, body: ((await down.json()) as { status: string }).status }).toEqual({ status: 503, body: 'unavailable' });
  });
});
