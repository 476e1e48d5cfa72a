// Writes the generated Kubernetes files (base/ and components/) from model.ts, policy.ts, monitoring.ts and
// the Kafka catalog. Run after changing any of them (the project must be built first):
//   bash deploy/local/provisio.sh build && bash deploy/local/provisio.sh exec node deploy/kubernetes/render.ts
// A test (deploy/test/kubernetes.spec.ts) fails when the committed files differ.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAll } from './manifests.ts';
import { prometheusRule, serviceMonitor } from './monitoring.ts';
import { serialize } from './serialize.ts';

const here = dirname(fileURLToPath(import.meta.url));
const files = renderAll({ serviceMonitor, rule: prometheusRule });
for (const [path, file] of Object.entries(files)) {
  const target = join(here, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, serialize(file));
}
process.stderr.write(`[render] wrote ${Object.keys(files).length} files under deploy/kubernetes\n`);
