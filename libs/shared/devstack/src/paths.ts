import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder up from here with nx.json. */
export function projectRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'nx.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the Provisio repository root (nx.json)');
    dir = up;
  }
  return dir;
}

/** Project-local, git-ignored state of the local stack. */
export function dataDir(...parts: string[]): string {
  return join(process.env['PROVISIO_DATA_DIR'] ?? join(projectRoot(), '.data'), ...parts);
}
