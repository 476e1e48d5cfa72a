import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrerequisiteError, ensureKafka, projectRoot } from '../src/index.js';

describe('missing prerequisites', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('without Java, starting the local broker names what to install and the Docker alternative', async () => {
    process.env['PATH'] = '/nonexistent';
    process.env['PROVISIO_DATA_DIR'] = mkdtempSync(join(tmpdir(), 'devstack-'));
    delete process.env['KAFKA_BROKERS'];
    const attempt = ensureKafka({ port: 29092 });
    await expect(attempt).rejects.toBeInstanceOf(PrerequisiteError);
    await expect(attempt).rejects.toThrow(/Java is not installed.*JDK 17 or newer.*docker compose up.*KAFKA_BROKERS/s);
  });

  it('the stack command exits non-zero with that message', () => {
    const cli = join(projectRoot(), 'libs/shared/devstack/dist/cli.js');
    const r = spawnSync(process.execPath, [cli, 'stack', 'up'], {
      env: { PATH: '/nonexistent', PROVISIO_DATA_DIR: mkdtempSync(join(tmpdir(), 'devstack-')), DATABASE_URL: 'postgres://u@127.0.0.1:1/x', PROVISIO_KAFKA_PORT: '29092' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing prerequisite: Java is not installed/);
  });
});
