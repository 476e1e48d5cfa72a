// Compiles every workspace project's src/ to dist/ with swc (decorator metadata included).
// Type checking is separate (`npm run typecheck`); this keeps the build fast on small machines.
import { transformFile, type Options } from '@swc/core';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const swcrc = JSON.parse(await readFile(join(root, '.swcrc'), 'utf8')) as Options;

async function projects(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const out: string[] = [];
  for (const pattern of pkg.workspaces) {
    const parts = pattern.split('/');
    let dirs = [root];
    for (const part of parts) {
      const next: string[] = [];
      for (const d of dirs) {
        if (part === '*') {
          for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
            if (e.isDirectory()) next.push(join(d, e.name));
          }
        } else next.push(join(d, part));
      }
      dirs = next;
    }
    out.push(...dirs);
  }
  return out;
}

async function* sources(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !/\.(spec|test)\.ts$/.test(e.name)) yield p;
  }
}

let files = 0;
const started = Date.now();
for (const project of await projects()) {
  const src = join(project, 'src');
  const dist = join(project, 'dist');
  await rm(dist, { recursive: true, force: true });
  const jobs: Promise<void>[] = [];
  for await (const file of sources(src)) {
    const outFile = join(dist, relative(src, file)).replace(/\.ts$/, '.js');
    jobs.push(
      (async () => {
        const result = await transformFile(file, { ...swcrc, swcrc: false, filename: file, sourceFileName: relative(dirname(outFile), file) });
        await mkdir(dirname(outFile), { recursive: true });
        await writeFile(outFile, `${result.code}\n//# sourceMappingURL=${outFile.split('/').pop()}.map\n`);
        if (result.map) await writeFile(`${outFile}.map`, result.map);
        files++;
      })(),
    );
  }
  await Promise.all(jobs);
}
process.stderr.write(`[provisio] built ${files} files in ${Date.now() - started} ms\n`);
