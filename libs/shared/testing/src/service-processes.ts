import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from '@provisio/devstack';
import { waitFor } from './helpers.js';

export interface RunningProcess {
  name: string;
  url: string;
  child: ChildProcess;
  output: string[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs services as real processes from their build (services/<name>/dist/main.js), the way the
 * run command and the container images do. Used by end-to-end tests.
 */
export class ServiceProcesses {
  readonly running: RunningProcess[] = [];

  /** Waits until the service is ready, or only alive (`until: 'live'`: readiness may be down on purpose, e.g. a quarantined target). */
  async start(name: string, env: Record<string, string>, o: { until?: 'ready' | 'live' } = {}): Promise<RunningProcess> {
    const port = Number(env['HTTP_PORT']) || (await freePort());
    const child = spawn(process.execPath, ['--enable-source-maps', '--disable-warning=TimeoutNegativeWarning', join(projectRoot(), 'services', name, 'dist', 'main.js')], {
      env: { PATH: process.env['PATH'] ?? '', ...env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p: RunningProcess = { name, url: `http://127.0.0.1:${port}`, child, output: [] };
    const keep = (b: Buffer) => {
      p.output.push(b.toString());
      if (p.output.length > 400) p.output.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.running.push(p);
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
          return (await fetch(`${p.url}/health/${o.until ?? 'ready'}`)).ok;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: `${name} to be ${o.until ?? 'ready'}` },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- ${name} output ---\n${p.output.join('').slice(-4000)}`);
    }
    return p;
  }

  get(name: string): RunningProcess {
    const p = this.running.find((r) => r.name === name);
    if (!p) throw new Error(`${name} is not running`);
    return p;
  }

  /**
   * SIGTERM (graceful shutdown), SIGKILL after the timeout. Resolves with how each one ended:
   * `graceful` when it exited by itself (Nest re-raises SIGTERM after closing, so that counts).
   */
  async stopAll(timeoutMs = 20_000): Promise<Record<string, 'graceful' | 'killed' | `exit ${number}`>> {
    const codes: Record<string, 'graceful' | 'killed' | `exit ${number}`> = {};
    await Promise.all(
      this.running.splice(0).map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null) {
              codes[p.name] = `exit ${p.child.exitCode}`;
              return resolve();
            }
            const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
            p.child.once('exit', (code, signal) => {
              clearTimeout(t);
              codes[p.name] = signal === 'SIGKILL' ? 'killed' : code === 0 || signal === 'SIGTERM' ? 'graceful' : `exit ${code ?? -1}`;
              resolve();
            });
            p.child.kill('SIGTERM');
          }),
      ),
    );
    return codes;
  }
}
