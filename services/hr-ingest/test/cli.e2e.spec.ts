import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { projectRoot } from '@provisio/devstack';
import { ServiceProcesses, createTestDatabase, mintToken, serviceTestEnv, uniqueTopicPrefix, type TestDatabase } from '@provisio/testing';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot(), 'services', 'hr-ingest', 'dist', 'cli.js'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** The built CLI as users run it: `node services/hr-ingest/dist/cli.js …` against hr-ingest as a process. */
describe('hr-ingest CLI from the build', () => {
  const services = new ServiceProcesses();
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase('hrcli');
    dir = await mkdtemp(join(tmpdir(), 'hr-cli-'));
    await services.start('hr-ingest', serviceTestEnv({ databaseUrl: db.url, topicPrefix: uniqueTopicPrefix() }));
    await writeFile(join(dir, 'm.yaml'), 'columns:\n  workerId: WorkerID\n  status: WorkerStatus\n  department: Department\nvalues:\n  WorkerStatus: { Active: active }\n');
    await writeFile(join(dir, 'ok.csv'), 'WorkerID,WorkerStatus,Department\nW1,Active,R&D\nW2,Active,Sales\n');
    await writeFile(join(dir, 'bad.csv'), 'WorkerID,WorkerStatus,Department\nW1,Gone,R&D\n');
  }, 90_000);

  afterAll(async () => {
    await services.stopAll();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('validates locally and imports through the running service, with meaningful exit codes', async () => {
    expect(await cli(['validate', '--mapping', join(dir, 'm.yaml'), join(dir, 'ok.csv')])).toEqual({ code: 0, out: expect.stringContaining('2 rows: 2 valid') });
    expect(await cli(['validate', '--mapping', join(dir, 'm.yaml'), join(dir, 'bad.csv')])).toEqual({ code: 1, out: expect.stringContaining('WorkerStatus') });
    const env = { PROVISIO_HR_INGEST_URL: services.get('hr-ingest').url, PROVISIO_TOKEN: await mintToken(['hr:write', 'hr:read']) };
    const imported = await cli(['import', '--source', 'workday', '--mapping', join(dir, 'm.yaml'), join(dir, 'ok.csv')], env);
    expect(imported).toEqual({ code: 0, out: expect.stringMatching(/applied[\s\S]*events: JOINER 2/) });
    expect((await cli(['import', '--source', 'workday', '--mapping', join(dir, 'm.yaml'), join(dir, 'ok.csv')], { ...env, PROVISIO_TOKEN: 'x.y.z' })).code).toBe(1);
    expect((await cli(['frobnicate'], env)).code).toBe(1);
  }, 60_000);
});
