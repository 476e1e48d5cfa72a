import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from './paths.js';
import { waitUntil } from './process-utils.js';
import { SERVICES, serviceEnv } from './services.js';
import { stackDown, stackUp } from './stack.js';

const COLORS = [36, 35, 33, 32, 34, 31];

/**
 * `npm start`: the stack, then all six services as child processes with prefixed logs; prints
 * where each listens; Ctrl-C stops the services, then what the stack started.
 */
export async function startPlatform(): Promise<void> {
  const log = (l: string) => process.stdout.write(`[provisio] ${l}\n`);
  const stack = await stackUp(log);
  log(`Kafka ${stack.kafkaBrokers.join(',')} (${stack.kafka.started ? 'started' : 'already running'}), PostgreSQL ${stack.postgres.source}`);
  const root = projectRoot();
  const children: { name: string; child: ChildProcess }[] = [];
  let stopping = false;

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('stopping services');
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 15000).unref();
          }),
      ),
    );
    if (stack.kafka.started || stack.postgres.started) {
      log('stopping the local stack');
      await stackDown();
    }
    log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  SERVICES.forEach((spec, i) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '--disable-warning=TimeoutNegativeWarning', join(root, 'services', spec.name, 'dist', 'main.js')], {
      env: serviceEnv(spec, stack),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = process.stdout.isTTY ? `\x1b[${COLORS[i % COLORS.length]}m${spec.name.padEnd(18)}\x1b[0m` : spec.name.padEnd(18);
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream! }).on('line', (line) => process.stdout.write(`${prefix} ${line}\n`));
    child.on('exit', (code, signal) => {
      if (!stopping) {
        log(`${spec.name} exited (${signal ?? code}); stopping everything`);
        void stop(1);
      }
    });
    children.push({ name: spec.name, child });
  });

  const urls = SERVICES.map((s) => ({ name: s.name, url: `http://127.0.0.1:${serviceEnv(s, stack)['HTTP_PORT']}` }));
  await Promise.all(
    urls.map(({ name, url }) => waitUntil(`${name} readiness`, async () => (await fetch(`${url}/health/ready`)).ok, 120_000, 500)),
  );
  log('all services are ready:');
  for (const { name, url } of urls) log(`  ${name.padEnd(19)} ${url}   (API docs ${url}/docs, metrics ${url}/metrics)`);
  log(`Kafka: ${stack.kafkaBrokers.join(',')}   PostgreSQL: ${stack.databaseUrl.replace(/:[^:@/]+@/, ':***@')}`);
  log('a development token (8 h, all scopes) is in $TOKEN with:  export TOKEN=$(npm run --silent token)');
  log(`try:  curl -X PUT ${urls[0]!.url}/v1/sources/hr/workers/1001 -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`);
  log(`        -d '{"attributes":{"userName":"ada.lovelace","givenName":"Ada","familyName":"Lovelace","status":"active"}}'`);
  log('Ctrl-C stops everything.');
}
