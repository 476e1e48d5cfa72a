import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { isAlive, projectRoot, waitUntil } from '../src/index.js';

/**
 * The slapd harness must not leave servers behind: a test process that is killed (SIGKILL, no
 * cleanup of its own) takes its slapd with it. Runs the harness in a child Node process (the
 * built package), kills that process, and watches the slapd pid.
 */
describe('slapd harness', () => {
  it('slapd dies with the process that started it, even when that process is SIGKILLed', async () => {
    const entry = `${projectRoot()}/libs/shared/devstack/dist/index.js`;
    const script = `import(${JSON.stringify(entry)}).then(async (m) => { const s = await m.startSlapd(); process.stdout.write('pid=' + s.pid + ' dir=' + s.dir + '\\n'); setInterval(() => undefined, 1000); });`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    owner.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await waitUntil('slapd started by the child', () => Promise.resolve(/pid=\d+/.test(out)), 30_000, 100, () => (owner.exitCode !== null ? `child exited with ${owner.exitCode}` : undefined));
    const pid = Number(/pid=(\d+)/.exec(out)![1]);
    expect(isAlive(pid)).toBe(true);
    owner.kill('SIGKILL');
    await waitUntil('slapd gone after its parent was killed', () => Promise.resolve(!isAlive(pid)), 10_000, 100);
    expect(isAlive(pid)).toBe(false);
    rmSync(/dir=(\S+)/.exec(out)![1]!, { recursive: true, force: true });
  }, 60_000);
});
