import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { assertSambaAdPortsFree, holdSambaAdLock, isAlive, portOpen, projectRoot, startSambaAd, waitUntil } from '../src/index.js';

/**
 * The Samba AD DC harness: its fixed ports must be free (a clear message names the busy one and
 * who holds it), and it must not leave a DC behind: a test process that is killed (SIGKILL, no
 * cleanup of its own) takes its samba with it, and the next run takes over the lock.
 */
describe('Samba AD DC harness', () => {
  it('fails clearly when one of its fixed ports is taken, naming the port and the process', async () => {
    // Under the harness's lock, so no DC of a concurrent test file holds the ports meanwhile.
    const release = await holdSambaAdLock();
    const squatter = createServer();
    try {
      await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(3268, '127.0.0.1', resolve));
      await expect(assertSambaAdPortsFree()).rejects.toThrow(new RegExp(String.raw`needs ports 389, 636, 3268, 3269 on 127\.0\.0\.1.*but 3268 is in use.*pid=${process.pid}`, 's'));
    } finally {
      await new Promise((r) => squatter.close(r));
      release();
    }
  });

  it('samba dies with the process that started it, even when that process is SIGKILLed', async () => {
    const entry = `${projectRoot()}/libs/shared/devstack/dist/index.js`;
    const script = `import(${JSON.stringify(entry)}).then(async (m) => { const s = await m.startSambaAd(); process.stdout.write('pid=' + s.pid + ' dir=' + s.dir + '\\n'); setInterval(() => undefined, 1000); });`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    owner.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await waitUntil('samba started by the child', () => Promise.resolve(/pid=\d+/.test(out)), 150_000, 200, () => (owner.exitCode !== null ? `child exited with ${owner.exitCode}` : undefined));
    const pid = Number(/pid=(\d+)/.exec(out)![1]);
    const dir = /dir=(\S+)/.exec(out)![1]!;
    expect(isAlive(pid)).toBe(true);
    expect(await portOpen(636)).toBe(true);
    owner.kill('SIGKILL');
    await waitUntil('samba gone after its parent was killed', async () => !(await portOpen(389)) && !(await portOpen(636)), 15_000, 100);
    // The killed owner's lock is stale: a new run takes over and finds the ports free.
    const again = await startSambaAd();
    try {
      expect(again.running).toBe(true);
    } finally {
      await again.destroy();
    }
    expect(existsSync(again.dir)).toBe(false);
    expect(await portOpen(636)).toBe(false);
    // The killed run's directory was removed by the next start (its owner is dead).
    expect(existsSync(dir)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);
});
