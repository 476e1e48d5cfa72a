import { spawn, type ChildProcess } from 'node:child_process';
import { commandExists } from './process-utils.js';

/** Running children → whether each has a process group of its own. */
const living = new Map<ChildProcess, boolean>();
let exitHook = false;

function killTree(c: ChildProcess, group: boolean): void {
  try {
    if (group && c.pid) process.kill(-c.pid, 'SIGKILL');
    else c.kill('SIGKILL');
  } catch {
    /* already gone */
  }
}

export interface TiedOptions {
  /** Keep a pipe on the child's stdin (servers that stop at EOF on stdin, like `samba -i`, then also stop when this process dies). */
  stdinPipe?: boolean;
  /** Its own process group (killed as a whole on exit), for servers that fork workers. */
  processGroup?: boolean;
}

/**
 * Spawns a server that cannot outlive this process: Linux's parent-death signal (setpriv
 * --pdeathsig, util-linux) kills it when this process dies in any way, SIGKILL included; without
 * setpriv a small watchdog shell polls this process and kills the server (its process group, with
 * `processGroup`) when it is gone. A normal exit kills it at once.
 */
export function spawnTied(binary: string, args: string[], o: TiedOptions = {}): ChildProcess {
  const parent = process.pid;
  const tied = commandExists('setpriv');
  const stdio: ['pipe' | 'ignore', 'pipe', 'pipe'] = [o.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  const detached = o.processGroup ?? false;
  const child = tied ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', binary, ...args], { stdio, detached }) : spawn(binary, args, { stdio, detached });
  if (!tied && child.pid) {
    const target = detached ? `-${child.pid}` : `${child.pid}`;
    const watchdog = spawn('/bin/sh', ['-c', `while kill -0 ${parent} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -KILL -- ${target} 2>/dev/null`], { detached: true, stdio: 'ignore' });
    watchdog.unref();
  }
  living.set(child, detached);
  child.once('exit', () => living.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const [c, group] of living) killTree(c, group);
    });
  }
  return child;
}

/** Keeps the last `max` chunks a server writes on stdout and stderr in `into`, for start-up errors. */
export function keepOutput(child: ChildProcess, into: string[], max = 200): void {
  const keep = (b: Buffer) => {
    into.push(b.toString());
    if (into.length > max) into.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
}
