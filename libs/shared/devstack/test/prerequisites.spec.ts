import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrerequisiteError, ensureKafka, missingSambaAdPackages, projectRoot, startSambaAd } from '../src/index.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('missing prerequisites', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('without Java, starting the local broker names what to install and the Docker alternative', async () => {
    process.env['PATH'] = '/nonexistent';
    process.env['PROVISIO_DATA_DIR'] = mkdtempSync(join(tmpdir(), 'devstack-'));
    delete process.env['KAFKA_BROKERS'];
    const attempt = ensureKafka({ port: await freePort() });
    await expect(attempt).rejects.toBeInstanceOf(PrerequisiteError);
    await expect(attempt).rejects.toThrow(/Java is not installed.*JDK 17 or newer.*docker compose up.*KAFKA_BROKERS/s);
  });

  it('the stack command exits non-zero with that message', async () => {
    const cli = join(projectRoot(), 'libs/shared/devstack/dist/cli.js');
    const r = spawnSync(process.execPath, [cli, 'stack', 'up'], {
      env: { PATH: '/nonexistent', PROVISIO_DATA_DIR: mkdtempSync(join(tmpdir(), 'devstack-')), DATABASE_URL: 'postgres://u@127.0.0.1:1/x', PROVISIO_KAFKA_PORT: String(await freePort()) },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing prerequisite: Java is not installed/);
  });

  it('without Samba, starting an AD DC for tests fails and names every Debian package to install', async () => {
    process.env['PATH'] = '/nonexistent';
    expect(missingSambaAdPackages('/nonexistent')).toEqual(['samba', 'samba-ad-provision', 'samba-dsdb-modules', 'samba-vfs-modules']);
    const attempt = startSambaAd({ installRoot: '/nonexistent' });
    await expect(attempt).rejects.toBeInstanceOf(PrerequisiteError);
    await expect(attempt).rejects.toThrow(/Samba AD DC is not installed: missing samba, samba-ad-provision, samba-dsdb-modules, samba-vfs-modules \(Debian: apt-get install --no-install-recommends samba samba-ad-provision samba-dsdb-modules samba-vfs-modules\)/);
  });
});
