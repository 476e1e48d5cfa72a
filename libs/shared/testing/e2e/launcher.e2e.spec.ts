import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICES, projectRoot } from '@provisio/devstack';
import { createTestDatabase, freePort, requireEnv, uniqueTopicPrefix, waitFor, type TestDatabase } from '../src/index.js';

/** The README's run command: everything comes up, says where it listens, and Ctrl-C stops it all. */
describe('npm start (launcher)', () => {
  let db: TestDatabase;
  let child: ChildProcess;
  let output = '';
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    db = await createTestDatabase('launcher');
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
      KAFKA_TOPIC_PREFIX: uniqueTopicPrefix(),
      DATABASE_URL: db.url,
      PROVISIO_DATA_DIR: mkdtempSync(join(tmpdir(), 'launcher-')),
      LOG_LEVEL: 'warn',
    };
    for (const s of SERVICES) {
      ports[s.name] = await freePort();
      env[`PROVISIO_${s.name.toUpperCase().replace(/-/g, '_')}_PORT`] = String(ports[s.name]);
    }
    child = spawn(process.execPath, [join(projectRoot(), 'libs/shared/devstack/dist/cli.js'), 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  }, 30_000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await db.drop();
  });

  it('starts all six services, prints where each listens, and stops everything on SIGINT', async () => {
    await waitFor(async () => output.includes('all services are ready'), { timeoutMs: 120_000, what: `launcher readiness\n${output.slice(-3000)}` });
    for (const s of SERVICES) {
      expect(output).toContain(`${s.name.padEnd(19)} http://127.0.0.1:${ports[s.name]}`);
      expect((await fetch(`http://127.0.0.1:${ports[s.name]}/health/ready`)).status).toBe(200);
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('[provisio] stopped');
    for (const s of SERVICES) await expect(fetch(`http://127.0.0.1:${ports[s.name]}/health/live`)).rejects.toThrow();
  }, 180_000);
});
