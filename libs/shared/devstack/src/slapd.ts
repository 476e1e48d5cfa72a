import { spawn, type ChildProcess } from 'node:child_process';
import { keepOutput, spawnTied } from './tied-process.js';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrerequisiteError, commandExists, portOpen, run, waitUntil } from './process-utils.js';

export interface SlapdOptions {
  suffix?: string;
  rootPassword?: string;
  /** Also listen on LDAPS and offer StartTLS, with a certificate made by openssl for this run. */
  tls?: boolean;
  /** Load the ppolicy overlay (pwdAccountLockedTime as a disable method). */
  ppolicy?: boolean;
  /** Extra slapd.conf lines for the database (indexes, limits). */
  databaseConfig?: string[];
  /** Skip syncing writes to disk (default true: fast tests); false = slapd's durable default. */
  noSync?: boolean;
  /** An LDIF file of entries below the suffix, loaded offline with slapadd before the start (fast bulk loads for benchmarks). */
  preloadFile?: string;
  log?: (line: string) => void;
}

export interface RunningSlapd {
  url: string;
  /** ldaps:// URL when tls is on. */
  ldapsUrl: string | undefined;
  port: number;
  ldapsPort: number | undefined;
  suffix: string;
  rootDn: string;
  rootPassword: string;
  /** CA that signed the server certificate (tls). */
  caFile: string | undefined;
  dir: string;
  readonly running: boolean;
  /** The slapd process while it runs. */
  readonly pid: number | undefined;
  /** Stops slapd (the data stays); `start()` brings it back on the same ports. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes the directory. */
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIRS = ['/usr/lib/ldap', '/usr/lib/x86_64-linux-gnu/ldap', '/usr/lib/openldap', '/usr/libexec/openldap'];

function slapdBinary(): string {
  for (const p of ['/usr/sbin/slapd', '/usr/libexec/slapd']) if (existsSync(p)) return p;
  if (commandExists('slapd')) return 'slapd';
  throw new PrerequisiteError('OpenLDAP slapd is not installed (Debian: apt-get install slapd ldap-utils)');
}

/** A CA and a server certificate for 127.0.0.1/localhost, made with openssl in `dir`. */
export function makeTestCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  if (!commandExists('openssl')) throw new PrerequisiteError('openssl is needed to make test certificates');
  const f = (n: string) => join(dir, n);
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=provisio-test-ca']);
  run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  run('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > '${f('server.ext')}'`]);
  run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext')]);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

/**
 * A throwaway OpenLDAP server for tests and benchmarks: a generated slapd.conf with an mdb
 * database in a temp directory, listening on free ports of 127.0.0.1 (never 389), with the core,
 * cosine, inetorgperson and nis schemas; optionally LDAPS + StartTLS and the ppolicy overlay.
 * The base entry and ou=people / ou=groups exist after start.
 */
export async function startSlapd(o: SlapdOptions = {}): Promise<RunningSlapd> {
  const binary = slapdBinary();
  const moduleDir = MODULE_DIRS.find((d) => existsSync(join(d, 'back_mdb.la')) || existsSync(join(d, 'back_mdb.so')));
  if (!existsSync(join(SCHEMA_DIR, 'core.schema'))) throw new PrerequisiteError(`OpenLDAP schemas not found in ${SCHEMA_DIR}`);
  const suffix = o.suffix ?? 'dc=example,dc=org';
  const rootDn = `cn=admin,${suffix}`;
  const rootPassword = o.rootPassword ?? 'provisio-test-secret';
  const dir = await mkdtemp(join(tmpdir(), 'provisio-slapd-'));
  await mkdir(join(dir, 'data'));
  const port = await freePort();
  const ldapsPort = o.tls ? await freePort() : undefined;
  const certs = o.tls ? makeTestCertificates(dir) : undefined;
  const conf = [
    ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
    ...(moduleDir ? [`modulepath ${moduleDir}`, 'moduleload back_mdb', ...(o.ppolicy ? ['moduleload ppolicy'] : [])] : []),
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    'sizelimit unlimited',
    ...(certs ? [`TLSCACertificateFile ${certs.caFile}`, `TLSCertificateFile ${certs.certFile}`, `TLSCertificateKeyFile ${certs.keyFile}`] : []),
    'database mdb',
    'maxsize 4294967296',
    `suffix "${suffix}"`,
    `rootdn "${rootDn}"`,
    `rootpw ${rootPassword}`,
    `directory ${join(dir, 'data')}`,
    ...((o.noSync ?? true) ? ['dbnosync'] : []),
    'index objectClass eq',
    'index uid,cn,mail,description,employeeNumber eq',
    'index member,uniqueMember,memberUid eq',
    'index uidNumber,gidNumber eq',
    'index entryUUID eq',
    ...(o.ppolicy ? ['overlay ppolicy'] : []),
    ...(o.databaseConfig ?? []),
  ];
  await writeFile(join(dir, 'slapd.conf'), `${conf.join('\n')}\n`);
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = ldapsPort ? `ldaps://127.0.0.1:${ldapsPort}` : undefined;
  const log = o.log ?? (() => undefined);
  let child: ChildProcess | undefined;
  const output: string[] = [];

  const start = async () => {
    if (child && child.exitCode === null) return;
    output.length = 0;
    const listeners = [`${url}/`, ...(ldapsUrl ? [`${ldapsUrl}/`] : [])].join(' ');
    // -d keeps slapd in the foreground as our child. A child outlives a parent that is killed, so
    // it is tied to this process: SIGKILL on parent death (setpriv), else a watchdog shell.
    child = spawnTied(binary, ['-f', join(dir, 'slapd.conf'), '-h', listeners, '-d', 'none']);
    keepOutput(child, output);
    const me = child;
    try {
      await waitUntil(
        'slapd',
        async () => {
          if (me.exitCode !== null) throw new Error(`slapd exited with ${me.exitCode}`);
          return (await portOpen(port)) && (!ldapsPort || (await portOpen(ldapsPort)));
        },
        15_000,
        50,
      );
    } catch (e) {
      me.kill('SIGKILL');
      throw new Error(`slapd did not start: ${(e as Error).message}\n${output.join('').slice(-3000)}`);
    }
    log(`slapd listening on ${url}${ldapsUrl ? ` and ${ldapsUrl}` : ''}`);
  };

  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.kill('SIGTERM');
    });
  };

  const [rdnAttr, rdnValue] = suffix.split(',')[0]!.split('=') as [string, string];
  const baseEntries = [
    `dn: ${suffix}\nobjectClass: top\nobjectClass: ${rdnAttr === 'dc' ? 'dcObject' : 'organization'}\nobjectClass: organization\no: ${rdnValue}\n${rdnAttr}: ${rdnValue}\n`,
    `dn: ou=people,${suffix}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${suffix}\nobjectClass: organizationalUnit\nou: groups\n`,
  ].join('\n');
  if (o.preloadFile) {
    await writeFile(join(dir, 'base.ldif'), baseEntries);
    const slapadd = existsSync('/usr/sbin/slapadd') ? '/usr/sbin/slapadd' : 'slapadd';
    run(slapadd, ['-f', join(dir, 'slapd.conf'), '-q', '-l', join(dir, 'base.ldif')]);
    run(slapadd, ['-f', join(dir, 'slapd.conf'), '-q', '-l', o.preloadFile]);
  }
  await start();
  const ldapadd = (ldif: string) =>
    new Promise<void>((resolve, reject) => {
      const p = spawn('ldapadd', ['-x', '-H', url, '-D', rootDn, '-w', rootPassword], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (b: Buffer) => (err += b.toString()));
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ldapadd exited with ${code}: ${err}`))));
      p.stdin.end(ldif);
    });
  if (!o.preloadFile) await ldapadd(baseEntries);

  return {
    url,
    ldapsUrl,
    port,
    ldapsPort,
    suffix,
    rootDn,
    rootPassword,
    caFile: certs?.caFile,
    dir,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child !== undefined && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    stop,
    start,
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
