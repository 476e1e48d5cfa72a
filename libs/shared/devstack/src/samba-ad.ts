import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, globSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { PrerequisiteError, commandExists, isAlive, portOpen, waitUntil } from './process-utils.js';
import { keepOutput, spawnTied } from './tied-process.js';

/** The Debian packages a Samba AD DC needs (`samba` alone does not provision or run a DC). */
export const SAMBA_AD_PACKAGES = ['samba', 'samba-ad-provision', 'samba-dsdb-modules', 'samba-vfs-modules'] as const;

/** Samba's LDAP ports cannot be moved: LDAP, LDAPS, global catalog, global catalog over TLS. */
export const SAMBA_AD_PORTS = [389, 636, 3268, 3269] as const;

export interface SambaAdOptions {
  /** DNS name of the domain (realm upper-cased); default provisio.test. */
  dnsDomain?: string;
  /** NetBIOS domain name; default PROVISIO. */
  netbiosDomain?: string;
  adminPassword?: string;
  /** How long to wait for another run's DC (same fixed ports) to finish; default 5 minutes. */
  lockWaitMs?: number;
  log?: (line: string) => void;
  /** Where Samba's files are looked for (tests of the missing-package message); default /. */
  installRoot?: string;
}

export interface RunningSambaAd {
  /** ldap://127.0.0.1:389 (simple binds allowed without TLS: `ldap server require strong auth = no`). */
  url: string;
  /** ldaps://127.0.0.1:636, certificate made by Samba for `hostname`, signed by `caFile`. */
  ldapsUrl: string;
  /** DC=provisio,DC=test */
  baseDn: string;
  /** CN=Administrator,CN=Users,<baseDn> */
  adminDn: string;
  adminPassword: string;
  dnsDomain: string;
  netbiosDomain: string;
  /** The DC's FQDN: the name in its LDAPS certificate (use as TLS servername). */
  hostname: string;
  caFile: string;
  dir: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it, removes the directory, releases the port lock. */
  destroy(): Promise<void>;
}

const execFileAsync = promisify(execFile);

const LOCK_FILE = join(tmpdir(), 'provisio-samba-ad.lock');

/**
 * What is missing for a Samba AD DC, named as Debian packages; empty when all is there.
 * `root` prefixes the paths looked at (tests); with it, PATH is not searched.
 */
export function missingSambaAdPackages(root = ''): string[] {
  const has = (pattern: string) => globSync(`${root}${pattern}`).length > 0;
  const onPath = (cmd: string) => root === '' && commandExists(cmd);
  const missing: string[] = [];
  if (!has('/usr/sbin/samba') && !onPath('samba')) missing.push('samba');
  // samba-tool comes with samba (samba-common-bin is one of its dependencies).
  else if (!has('/usr/bin/samba-tool') && !onPath('samba-tool')) missing.push('samba-common-bin');
  if (!has('/usr/share/samba/setup/ad-schema')) missing.push('samba-ad-provision');
  if (!has('/usr/lib{,/*}/samba/ldb/acl.so')) missing.push('samba-dsdb-modules');
  if (!has('/usr/lib{,/*}/samba/vfs/acl_xattr.so')) missing.push('samba-vfs-modules');
  return missing;
}

function sambaBinary(): string {
  return existsSync('/usr/sbin/samba') ? '/usr/sbin/samba' : 'samba';
}

function listenersOn(ports: readonly number[]): string {
  if (!commandExists('ss')) return '';
  const r = spawnSync('ss', ['-ltnpH', `( ${ports.map((p) => `sport = :${p}`).join(' or ')} )`], { encoding: 'utf8' });
  return (r.stdout ?? '').trim();
}

/**
 * One Samba DC at a time on this machine (its ports are fixed): an exclusive lock file holding the
 * owner's pid. A lock whose owner is gone is taken over.
 */
async function takeLock(waitMs: number, log: (l: string) => void): Promise<void> {
  const deadline = Date.now() + waitMs;
  let said = false;
  for (;;) {
    try {
      writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx' });
      return;
    } catch {
      const owner = Number(readFileSync(LOCK_FILE, 'utf8').trim() || '0');
      if (!owner || !isAlive(owner)) {
        rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another Samba AD DC test run (pid ${owner}) holds ${LOCK_FILE} for ports ${SAMBA_AD_PORTS.join('/')}; waited ${Math.round(waitMs / 1000)} s`);
      if (!said) log(`waiting for the Samba AD DC of pid ${owner} (ports ${SAMBA_AD_PORTS.join('/')} are fixed)`);
      said = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const DIR_PREFIX = 'provisio-samba-';

/** A provisioned domain is ~35 MB: the directories of runs whose process died without cleaning up go. */
function removeAbandonedDirs(): void {
  for (const d of globSync(join(tmpdir(), `${DIR_PREFIX}*`))) {
    let owner = 0;
    try {
      owner = Number(readFileSync(join(d, 'owner.pid'), 'utf8').trim());
    } catch {
      continue; // not (yet) marked: leave it
    }
    if (owner > 0 && !isAlive(owner)) rmSync(d, { recursive: true, force: true });
  }
}

/** Throws, naming the busy ports and who listens on them, unless Samba's fixed ports are free. */
export async function assertSambaAdPortsFree(): Promise<void> {
  const busy: number[] = [];
  for (const p of SAMBA_AD_PORTS) if (await portOpen(p)) busy.push(p);
  if (busy.length === 0) return;
  const who = listenersOn(busy);
  throw new Error(
    `Samba AD DC needs ports ${SAMBA_AD_PORTS.join(', ')} on 127.0.0.1 (Samba cannot move its LDAP ports), but ${busy.join(', ')} ${busy.length > 1 ? 'are' : 'is'} in use` +
      `${who ? `:\n${who}` : ''}\nStop that server (e.g. the system slapd: service slapd stop; a system samba: service samba-ad-dc stop) and retry.`,
  );
}

/** Holds the one-DC-per-machine lock (as a DC run does) until the returned function is called. */
export async function holdSambaAdLock(waitMs = 300_000): Promise<() => void> {
  await takeLock(waitMs, () => undefined);
  return releaseLock;
}

function releaseLock(): void {
  try {
    if (readFileSync(LOCK_FILE, 'utf8').trim() === String(process.pid)) unlinkSync(LOCK_FILE);
  } catch {
    /* not ours or gone */
  }
}

function tlsAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('secureConnect', () => done(true));
  });
}

/**
 * A throwaway Active Directory domain controller for tests: Debian's Samba (4.17) provisions a
 * new domain into a temp directory (`samba-tool domain provision --use-rfc2307 --dns-backend=NONE`,
 * all state below the directory) and `samba -i -M single` serves only LDAP on 127.0.0.1:
 * ports 389/636 (and the global catalog 3268/3269), which Samba cannot move. Those must be free,
 * so one DC runs at a time on a machine (a lock file serialises test runs). LDAPS uses the
 * certificate Samba makes for itself at the first start. The server cannot outlive the test
 * process (parent-death signal, EOF on its stdin, its own process group killed on exit).
 */
export async function startSambaAd(o: SambaAdOptions = {}): Promise<RunningSambaAd> {
  const missing = missingSambaAdPackages(o.installRoot);
  if (missing.length > 0) {
    throw new PrerequisiteError(`Samba AD DC is not installed: missing ${missing.join(', ')} (Debian: apt-get install --no-install-recommends ${SAMBA_AD_PACKAGES.join(' ')})`);
  }
  if (process.getuid && process.getuid() !== 0) throw new PrerequisiteError('a Samba AD DC must run as root (it binds ports 389/636 and sets file ACLs while provisioning)');
  const log = o.log ?? (() => undefined);
  const dnsDomain = (o.dnsDomain ?? 'provisio.test').toLowerCase();
  const netbiosDomain = (o.netbiosDomain ?? 'PROVISIO').toUpperCase();
  const adminPassword = o.adminPassword ?? 'Provisio-Test-1!';
  const baseDn = dnsDomain
    .split('.')
    .map((p) => `DC=${p}`)
    .join(',');
  const hostname = `dc1.${dnsDomain}`;

  await takeLock(o.lockWaitMs ?? 300_000, log);
  let dir: string | undefined;
  try {
    await assertSambaAdPortsFree();
    removeAbandonedDirs();
    dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
    writeFileSync(join(dir, 'owner.pid'), String(process.pid));
    const options = {
      interfaces: 'lo',
      'bind interfaces only': 'yes',
      // Only the directory: no SMB, KDC, DNS, RPC, NTP, replication.
      'server services': 'ldap',
      'pid directory': join(dir, 'run'),
      'log file': join(dir, 'log.%m'),
    };
    const provisionArgs = [
      'domain', 'provision',
      '--use-rfc2307',
      `--realm=${dnsDomain.toUpperCase()}`,
      `--domain=${netbiosDomain}`,
      '--server-role=dc',
      '--dns-backend=NONE',
      '--host-name=dc1',
      `--adminpass=${adminPassword}`,
      `--targetdir=${dir}`,
      ...Object.entries(options).map(([k, v]) => `--option=${k} = ${v}`),
    ];
    const t0 = Date.now();
    // Asynchronously: provisioning takes 10-20 s, the test process's event loop keeps running.
    await execFileAsync('samba-tool', provisionArgs, { cwd: dir, maxBuffer: 16 * 1024 * 1024 }).catch((e: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`samba-tool domain provision failed: ${e.message}\n${`${e.stdout ?? ''}${e.stderr ?? ''}`.slice(-3000)}`);
    });
    // Simple binds over plain LDAP (Windows allows them unless LDAP signing is enforced), so the
    // connector's own refusal of unicodePwd without TLS can be shown. samba-tool does not write
    // this option into smb.conf at provisioning, so it goes in afterwards.
    const conf = join(dir, 'etc', 'smb.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('[global]\n', '[global]\n\tldap server require strong auth = no\n'));
    log(`Samba AD domain ${dnsDomain} provisioned in ${dir} (${Date.now() - t0} ms)`);
  } catch (e) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    releaseLock();
    throw e;
  }
  const smbConf = join(dir, 'etc', 'smb.conf');
  const caFile = join(dir, 'private', 'tls', 'ca.pem');
  let child: ChildProcess | undefined;
  const output: string[] = [];
  const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

  const start = async () => {
    if (child && !gone(child)) return;
    output.length = 0;
    // -i: foreground, logs on stdout, stops at EOF on stdin (the pipe closes when we die);
    // -M single: one process, no forked workers.
    child = spawnTied(sambaBinary(), ['-i', '-M', 'single', '-s', smbConf, '-d', '1'], { stdinPipe: true, processGroup: true });
    keepOutput(child, output);
    const me = child;
    try {
      await waitUntil('samba', async () => (await portOpen(389)) && existsSync(caFile) && (await tlsAnswers(636)), 60_000, 200, () =>
        gone(me) ? `samba exited with ${me.exitCode ?? me.signalCode}` : undefined,
      );
    } catch (e) {
      killGroup(me);
      throw new Error(`samba did not start: ${(e as Error).message}\n${output.join('').slice(-3000)}`);
    }
    log(`Samba AD DC listening on ldap://127.0.0.1:389 and ldaps://127.0.0.1:636`);
  };

  const killGroup = (c: ChildProcess) => {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      c.kill('SIGKILL');
    }
  };

  const stop = async () => {
    const c = child;
    if (!c || gone(c)) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => killGroup(c), 10_000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.stdin?.end(); // samba -i stops at EOF on stdin
      try {
        if (c.pid) process.kill(-c.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    });
  };

  try {
    await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    releaseLock();
    throw e;
  }

  const root = dir;
  return {
    url: 'ldap://127.0.0.1:389',
    ldapsUrl: 'ldaps://127.0.0.1:636',
    baseDn,
    adminDn: `CN=Administrator,CN=Users,${baseDn}`,
    adminPassword,
    dnsDomain,
    netbiosDomain,
    hostname,
    caFile,
    dir: root,
    get pid() {
      return child && !gone(child) ? child.pid : undefined;
    },
    get running() {
      return child !== undefined && !gone(child);
    },
    stop,
    start,
    destroy: async () => {
      await stop();
      await rm(root, { recursive: true, force: true });
      releaseLock();
    },
  };
}
