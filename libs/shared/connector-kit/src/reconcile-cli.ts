import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RunSummary } from './reconciler.js';

const USAGE = `usage:
  <connector> reconcile <target> [--mode report|correct] [--url URL] [--token-file FILE] [--no-wait] [--timeout-seconds N] [--fail-on-drift]
  <connector> targets [--url URL] [--token-file FILE]

  URL defaults to $PROVISIO_CONNECTOR_URL, else http://127.0.0.1:<default port>.
  The bearer token comes from --token-file, $PROVISIO_TOKEN or $PROVISIO_TOKEN_FILE (scopes connector:read, connector:write).
  Exit codes: 0 done, 1 run failed, request refused or service unreachable, 2 bad usage, 3 drift found (with --fail-on-drift).`;

/** The service did not answer (refused, unknown host, reset, TLS): the request never got an HTTP status. */
class Unreachable extends Error {}

/** What went wrong under fetch's "fetch failed": `connect ECONNREFUSED 127.0.0.1:8084`, `getaddrinfo ENOTFOUND host`, … */
function causeOf(e: unknown): string {
  let cause = (e as { cause?: unknown }).cause ?? e;
  // Several addresses tried (localhost: ::1 and 127.0.0.1): an AggregateError without a message of its own.
  if (cause instanceof AggregateError && !cause.message) cause = cause.errors[0] ?? cause;
  const c = cause as { message?: unknown; code?: unknown };
  return (typeof c.message === 'string' && c.message) || (typeof c.code === 'string' && c.code) || String(cause);
}

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * The connector CLI (`node services/connector-<kind>/dist/cli.js ...`): starts a reconciliation
 * through the service's API and waits for it, printing the summary as JSON. Returns the exit code.
 */
export async function reconcileCli(argv: string[], defaultPort: number, io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        mode: { type: 'string' },
        url: { type: 'string' },
        'token-file': { type: 'string' },
        'no-wait': { type: 'boolean', default: false },
        'timeout-seconds': { type: 'string', default: '3600' },
        'fail-on-drift': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, target] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const url = (values.url ?? io.env['PROVISIO_CONNECTOR_URL'] ?? `http://127.0.0.1:${defaultPort}`).replace(/\/$/, '');
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    io.err(`${values.url === undefined ? 'PROVISIO_CONNECTOR_URL' : '--url'} ${url}: not an http:// or https:// URL`);
    return 2;
  }
  let token: string | undefined;
  try {
    const file = values['token-file'] ?? io.env['PROVISIO_TOKEN_FILE'];
    token = file ? readFileSync(file, 'utf8').trim() : io.env['PROVISIO_TOKEN'];
  } catch (e) {
    io.err(`cannot read the token file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    return 2;
  }
  if (!token) {
    io.err(`no token: set PROVISIO_TOKEN or PROVISIO_TOKEN_FILE, or pass --token-file\n${USAGE}`);
    return 2;
  }
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      text = await res.text();
    } catch (e) {
      throw new Unreachable(causeOf(e));
    }
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json };
  };
  try {
    return await runCommand(command, target, values, call, io);
  } catch (e) {
    if (!(e instanceof Unreachable)) throw e;
    io.err(`cannot reach the connector at ${url}: ${e.message}`);
    return 1;
  }
}

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: unknown }>;

/** The command itself, once the arguments are read; a service that does not answer throws Unreachable. */
async function runCommand(command: string, target: string | undefined, values: { mode?: string | undefined; 'no-wait'?: boolean | undefined; 'timeout-seconds'?: string | undefined; 'fail-on-drift'?: boolean | undefined }, call: Call, io: CliIo): Promise<number> {
  if (command === 'targets') {
    const r = await call('GET', '/v1/targets');
    (r.status === 200 ? io.out : io.err)(JSON.stringify(r.json, null, 2));
    return r.status === 200 ? 0 : 1;
  }
  if (command !== 'reconcile' || !target) {
    io.err(USAGE);
    return 2;
  }
  if (values.mode !== undefined && values.mode !== 'report' && values.mode !== 'correct') {
    io.err(`--mode ${values.mode}: must be report or correct`);
    return 2;
  }
  const started = await call('POST', `/v1/targets/${encodeURIComponent(target)}/reconciliations`, values.mode ? { mode: values.mode } : {});
  if (started.status !== 202) {
    io.err(`reconciliation not started (HTTP ${started.status}): ${JSON.stringify(started.json)}`);
    return 1;
  }
  let run = started.json as RunSummary;
  if (!values['no-wait']) {
    const deadline = Date.now() + Number(values['timeout-seconds']) * 1000;
    while (run.status === 'RUNNING') {
      if (Date.now() > deadline) {
        io.err(`run ${run.runId} still running after ${values['timeout-seconds']} s`);
        return 1;
      }
      await new Promise((r) => setTimeout(r, 500));
      const r = await call('GET', `/v1/targets/${encodeURIComponent(target)}/reconciliations/${run.runId}`);
      if (r.status !== 200) {
        io.err(`cannot read run ${run.runId} (HTTP ${r.status}): ${JSON.stringify(r.json)}`);
        return 1;
      }
      run = r.json as RunSummary;
    }
  }
  io.out(JSON.stringify(run, null, 2));
  if (run.status === 'FAILED') return 1;
  const drift = Object.values(run.drift).reduce((a, b) => a + (b ?? 0), 0);
  return values['fail-on-drift'] && drift > 0 ? 3 : 0;
}
