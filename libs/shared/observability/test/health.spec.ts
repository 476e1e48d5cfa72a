import { describe, expect, it } from '@jest/globals';
import { HealthRegistry } from '../src/index.js';

describe('readiness', () => {
  it('is ok only when every registered check passes, and reports which one failed', async () => {
    const h = new HealthRegistry(200);
    h.register('kafka', async () => undefined);
    expect((await h.readiness()).status).toBe('ok');
    h.register('database', async () => {
      throw new Error('connection refused');
    });
    h.register('slow-target', () => new Promise(() => undefined));
    const report = await h.readiness();
    expect(report.status).toBe('unavailable');
    expect(report.checks['kafka']!.status).toBe('up');
    expect(report.checks['database']).toMatchObject({ status: 'down', error: 'connection refused' });
    expect(report.checks['slow-target']).toMatchObject({ status: 'down', error: 'timed out after 200 ms' });
  });
});

describe('checks that do not affect readiness', () => {
  it('report a failure as `degraded` and keep readiness (status degraded, not unavailable)', async () => {
    const h = new HealthRegistry(200);
    h.register('kafka', async () => undefined);
    h.register('target:corp-ldap', async () => Promise.reject(new Error('quarantined since 2026-01-01T00:00:00.000Z')), { affectsReadiness: false });
    expect(await h.readiness()).toEqual({
      status: 'degraded',
      checks: { kafka: { status: 'up', ms: expect.any(Number) }, 'target:corp-ldap': { status: 'degraded', error: 'quarantined since 2026-01-01T00:00:00.000Z', ms: expect.any(Number) } },
    });
    h.register('database', async () => Promise.reject(new Error('connection refused')));
    expect((await h.readiness()).status).toBe('unavailable');
  });
});
