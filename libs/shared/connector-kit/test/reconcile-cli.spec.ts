import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from '@provisio/devstack';
import { freePort } from '@provisio/testing';
import { reconcileCli } from '../src/reconcile-cli.js';

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await reconcileCli(argv, 8084, { env: { PROVISIO_TOKEN: 'token' }, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/**
 * The connector CLI when the service does not answer: one line naming the URL and the cause,
 * exit status 1 — not fetch's uncaught "TypeError: fetch failed" with a stack trace.
 */
describe('connector CLI: a service that does not answer', () => {
  let closedPort: number;
  /** Accepts connections and drops them at once: no HTTP answer. */
  let dropping: Server;
  let droppingPort: number;

  beforeAll(async () => {
    closedPort = await freePort();
    dropping = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    droppingPort = (dropping.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => dropping.close(resolve));
  });

  it('targets: names the URL and the refused connection, exit status 1', async () => {
    const r = await cli(['targets', '--url', `http://127.0.0.1:${closedPort}`]);
    expect(r).toEqual({ code: 1, out: [], err: [`cannot reach the connector at http://127.0.0.1:${closedPort}: connect ECONNREFUSED 127.0.0.1:${closedPort}`] });
  });

  it('reconcile: the same when the connection is dropped without an answer', async () => {
    const r = await cli(['reconcile', 'app', '--url', `http://127.0.0.1:${droppingPort}/`]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(new RegExp(`^cannot reach the connector at http://127\\.0\\.0\\.1:${droppingPort}: \\S`));
    expect(r.err[0]).not.toMatch(/fetch failed|TypeError/);
  });

  it('a host name with several addresses (localhost): the first address refused', async () => {
    const r = await cli(['targets', '--url', `http://localhost:${closedPort}`]);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([expect.stringMatching(new RegExp(`^cannot reach the connector at http://localhost:${closedPort}: connect ECONNREFUSED `))]);
  });

  it('a URL that is not one: bad usage, exit status 2', async () => {
    expect(await cli(['targets', '--url', 'connector:8084'])).toEqual({ code: 2, out: [], err: ['--url connector:8084: not an http:// or https:// URL'] });
    expect(await cli(['targets', '--url', 'nope'])).toEqual({ code: 2, out: [], err: ['--url nope: not an http:// or https:// URL'] });
  });

  it('the built CLI (connector-scim): one line on stderr, no stack trace, exit status 1', async () => {
    const child = spawn(process.execPath, [join(projectRoot(), 'services/connector-scim/dist/cli.js'), 'targets', '--url', `http://127.0.0.1:${closedPort}`], {
      env: { PATH: process.env['PATH'] ?? '', PROVISIO_TOKEN: 'token' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect({ code, stdout, stderr }).toEqual({ code: 1, stdout: '', stderr: `cannot reach the connector at http://127.0.0.1:${closedPort}: connect ECONNREFUSED 127.0.0.1:${closedPort}\n` });
  });
});
