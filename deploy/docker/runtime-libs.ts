// The workspace libraries a service's image carries: the @provisio/* packages its compiled code
// imports, followed transitively through the libraries' compiled code, plus the tools its image
// must also run (IMAGE_TOOLS). Development tooling (devstack: development keys, token minting;
// testing: stack helpers) is never one of them; a runtime import of it fails the build.
//   node deploy/docker/runtime-libs.ts <service>      (from the project root, after the build)
// prints one folder a line (libs/<scope>/<name>). deploy/docker/Dockerfile copies exactly those.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Never in a production image. */
export const DEV_ONLY = ['@provisio/devstack', '@provisio/testing'];

/**
 * Tools an image runs besides its service: the audit image also runs the kafka-admin Job
 * (components/kafka-admin-job) and docker compose's kafka-init job.
 */
export const IMAGE_TOOLS: Record<string, string[]> = { audit: ['@provisio/kafka-admin'] };

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](@provisio\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/g;

/** Package name → folder, for every workspace under libs/. */
function libraries(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const scope of readdirSync(join(root, 'libs'))) {
    for (const name of readdirSync(join(root, 'libs', scope))) {
      const manifest = join(root, 'libs', scope, name, 'package.json');
      if (existsSync(manifest)) out.set((JSON.parse(readFileSync(manifest, 'utf8')) as { name: string }).name, `libs/${scope}/${name}`);
    }
  }
  return out;
}

function jsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(c|m)?js$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

function importsOf(root: string, folder: string): Set<string> {
  const found = new Set<string>();
  for (const f of jsFiles(join(root, folder, 'dist'))) for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) found.add(m[1]!);
  return found;
}

/** The library folders `service` needs at run time, sorted; throws on a runtime import of development tooling. */
export function runtimeLibs(service: string, root: string = process.cwd()): string[] {
  const serviceDir = `services/${service}`;
  if (!existsSync(join(root, serviceDir, 'dist', 'main.js'))) throw new Error(`${serviceDir}/dist/main.js does not exist: unknown service, or not built`);
  const libs = libraries(root);
  const needed = new Set<string>();
  const queue: { pkg: string; by: string }[] = [...importsOf(root, serviceDir)].map((pkg) => ({ pkg, by: serviceDir }));
  queue.push(...(IMAGE_TOOLS[service] ?? []).map((pkg) => ({ pkg, by: 'IMAGE_TOOLS' })));
  while (queue.length > 0) {
    const { pkg, by } = queue.shift()!;
    if (needed.has(pkg)) continue;
    if (DEV_ONLY.includes(pkg)) throw new Error(`${by} imports ${pkg}, development tooling that never ships in an image`);
    const folder = libs.get(pkg);
    if (!folder) continue; // another service's package name: not a library
    needed.add(pkg);
    for (const next of importsOf(root, folder)) queue.push({ pkg: next, by: folder });
  }
  return [...needed].map((p) => libs.get(p)!).sort();
}

if (process.argv[1] && relative(process.cwd(), process.argv[1]).endsWith(join('deploy', 'docker', 'runtime-libs.ts'))) {
  const service = process.argv[2];
  if (!service) {
    process.stderr.write('usage: node deploy/docker/runtime-libs.ts <service>\n');
    process.exit(2);
  }
  try {
    process.stdout.write(`${runtimeLibs(service).join('\n')}\n`);
  } catch (e) {
    process.stderr.write(`[runtime-libs] ${(e as Error).message}\n`);
    process.exit(1);
  }
}
