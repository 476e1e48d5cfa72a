// Generates TypeScript types and an embedded schema table from schemas/<Name>/v<N>.avsc.
// Runs with Node's type stripping before every build, typecheck and test; output is git-ignored.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Schema = string | Schema[] | { [k: string]: unknown };

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..', '..');
const schemasDir = join(root, 'schemas');
const outDir = join(here, '..', 'src', 'generated');

interface Versioned {
  name: string;
  versions: { version: number; schema: Schema }[];
}

export async function loadSchemaVersions(dir: string): Promise<Versioned[]> {
  const out: Versioned[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    const versions: Versioned['versions'] = [];
    for (const file of await readdir(join(dir, entry.name))) {
      const m = /^v(\d+)\.avsc$/.exec(file);
      if (!m) throw new Error(`schemas/${entry.name}/${file}: schema files must be named v<N>.avsc`);
      const text = await readFile(join(dir, entry.name, file), 'utf8');
      let schema: Schema;
      try {
        schema = JSON.parse(text) as Schema;
      } catch (e) {
        throw new Error(`schemas/${entry.name}/${file}: invalid JSON: ${(e as Error).message}`);
      }
      versions.push({ version: Number(m[1]), schema });
    }
    versions.sort((a, b) => a.version - b.version);
    versions.forEach((v, i) => {
      if (v.version !== i + 1) throw new Error(`schemas/${entry.name}: versions must be v1..vN without gaps (missing v${i + 1})`);
    });
    const latest = versions.at(-1)?.schema as { name?: string } | undefined;
    if (latest?.name !== entry.name) throw new Error(`schemas/${entry.name}: latest schema's record name must be ${entry.name}`);
    out.push({ name: entry.name, versions });
  }
  return out;
}

function tsName(fullName: string): string {
  return fullName.split('.').pop() ?? fullName;
}

class Emitter {
  private readonly decls: string[] = [];
  private readonly seen = new Set<string>();

  typeOf(s: Schema): string {
    if (typeof s === 'string') {
      switch (s) {
        case 'null': return 'null';
        case 'boolean': return 'boolean';
        case 'int': case 'long': case 'float': case 'double': return 'number';
        case 'bytes': return 'Buffer';
        case 'string': return 'string';
        default: return tsName(s);
      }
    }
    if (Array.isArray(s)) return s.map((b) => this.typeOf(b)).join(' | ');
    const t = s['type'] as Schema;
    switch (t) {
      case 'record': case 'error': return this.record(s);
      case 'enum': return this.enumType(s);
      case 'array': return `Array<${this.typeOf(s['items'] as Schema)}>`;
      case 'map': return `Record<string, ${this.typeOf(s['values'] as Schema)}>`;
      case 'fixed': return 'Buffer';
      default: return this.typeOf(t);
    }
  }

  private doc(text: unknown, indent = ''): string {
    return typeof text === 'string' ? `${indent}/** ${text.replace(/\*\//g, '* /')} */\n` : '';
  }

  private record(s: { [k: string]: unknown }): string {
    const name = tsName(String(s['name']));
    if (this.seen.has(name)) return name;
    this.seen.add(name);
    const fields = (s['fields'] as { name: string; type: Schema; doc?: string }[]).map(
      (f) => `${this.doc(f.doc, '  ')}  ${f.name}: ${this.typeOf(f.type)};`,
    );
    this.decls.push(`${this.doc(s['doc'])}export interface ${name} {\n${fields.join('\n')}\n}\n`);
    return name;
  }

  private enumType(s: { [k: string]: unknown }): string {
    const name = tsName(String(s['name']));
    if (this.seen.has(name)) return name;
    this.seen.add(name);
    const symbols = s['symbols'] as string[];
    this.decls.push(
      `${this.doc(s['doc'])}export const ${name} = {\n${symbols.map((x) => `  ${x}: '${x}',`).join('\n')}\n} as const;\n` +
        `export type ${name} = (typeof ${name})[keyof typeof ${name}];\n`,
    );
    return name;
  }

  output(): string {
    return this.decls.join('\n');
  }
}

export async function generate(): Promise<void> {
  const all = await loadSchemaVersions(schemasDir);
  const emitter = new Emitter();
  for (const s of all) emitter.typeOf(s.versions.at(-1)!.schema);
  const banner = '// Generated from schemas/ by tools/codegen.ts. Do not edit.\n/* eslint-disable */\n';
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'types.ts'), `${banner}\n${emitter.output()}`);
  const table = all
    .map((s) => `  ${s.name}: [\n${s.versions.map((v) => `    ${JSON.stringify(v.schema)},`).join('\n')}\n  ],`)
    .join('\n');
  const names = all.map((s) => s.name);
  await writeFile(
    join(outDir, 'schemas.ts'),
    `${banner}\nimport type { ${names.join(', ')} } from './types.js';\n\n` +
      `export type SchemaName = ${names.map((n) => `'${n}'`).join(' | ')};\n\n` +
      `/** The TypeScript type of each schema's latest version. */\nexport interface SchemaTypeMap {\n${names.map((n) => `  ${n}: ${n};`).join('\n')}\n}\n\n` +
      `/** Every version of every schema in schemas/, oldest first. */\nexport const SCHEMA_VERSIONS: Record<SchemaName, readonly object[]> = {\n${table}\n};\n`,
  );
}

export const LOCK_FILE = join(schemasDir, 'fingerprints.json');

/** CRC-64-AVRO fingerprint (hex) of every version's Parsing Canonical Form, by name and version. */
export async function fingerprints(): Promise<Record<string, Record<string, string>>> {
  const { default: avro } = await import('avsc');
  const { fingerprintBytes } = await import('../src/fingerprint.ts');
  const out: Record<string, Record<string, string>> = {};
  for (const s of await loadSchemaVersions(schemasDir)) {
    out[s.name] = Object.fromEntries(
      s.versions.map((v) => [`v${v.version}`, fingerprintBytes(JSON.stringify(avro.Type.forSchema(v.schema as never, { wrapUnions: 'auto' }).schema())).toString('hex')]),
    );
  }
  return out;
}

/**
 * Records the fingerprints of versions that are not in schemas/fingerprints.json yet. Existing
 * entries are never changed: a released version is immutable (add v<N+1> instead).
 */
export async function lock(): Promise<string[]> {
  const current = await fingerprints();
  const locked = JSON.parse(await readFile(LOCK_FILE, 'utf8').catch(() => '{}')) as Record<string, Record<string, string>>;
  const added: string[] = [];
  for (const [name, versions] of Object.entries(current)) {
    for (const [version, fp] of Object.entries(versions)) {
      const entry = (locked[name] ??= {});
      if (entry[version] === undefined) {
        entry[version] = fp;
        added.push(`${name} ${version}`);
      }
    }
  }
  const sorted = Object.fromEntries(Object.entries(locked).sort(([a], [b]) => a.localeCompare(b)));
  await writeFile(LOCK_FILE, `${JSON.stringify(sorted, null, 2)}\n`);
  return added;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await generate();
  if (process.argv.includes('--lock')) {
    const added = await lock();
    process.stdout.write(added.length ? `recorded ${added.join(', ')} in schemas/fingerprints.json\n` : 'schemas/fingerprints.json is up to date\n');
  }
}
