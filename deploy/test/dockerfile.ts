// A small reader of Dockerfiles: enough of the syntax to check and replay our own image recipe
// outside Docker (stages, ARG/ENV, WORKDIR, COPY, RUN, USER, HEALTHCHECK, STOPSIGNAL, CMD).

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const logical: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!buffer && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (!buffer) start = i + 1;
    if (buffer && line.trim().startsWith('#')) return; // comments inside a continued instruction
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1)} `;
      return;
    }
    buffer += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buffer);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot read '${buffer}'`);
    logical.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buffer = '';
  });
  const df: Dockerfile = { globalArgs: {}, stages: [] };
  for (const ins of logical) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: FROM ${ins.args}`);
      df.stages.push({ name: m[2] ?? String(df.stages.length), from: m[1]!, instructions: [] });
    } else if (df.stages.length === 0) {
      if (ins.op !== 'ARG') throw new Error(`Dockerfile line ${ins.line}: ${ins.op} before FROM`);
      const [k, v] = splitAssignment(ins.args);
      df.globalArgs[k] = v ?? '';
    } else {
      df.stages.at(-1)!.instructions.push(ins);
    }
  }
  return df;
}

function splitAssignment(s: string): [string, string | undefined] {
  const i = s.indexOf('=');
  return i < 0 ? [s.trim(), undefined] : [s.slice(0, i).trim(), unquote(s.slice(i + 1).trim())];
}

function unquote(s: string): string {
  return /^".*"$/.test(s) ? s.slice(1, -1).replace(/\\"/g, '"') : s;
}

/** `KEY=value KEY2="a b"` (the ENV and LABEL forms). */
export function parseAssignments(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (const m of s.matchAll(re)) out[m[1]!] = unquote(m[2]!);
  return out;
}

/** `${NAME}` and `$NAME` from build args and ENV, as Docker substitutes them in most instructions. */
export function substitute(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a?: string, b?: string) => vars[(a ?? b)!] ?? '');
}

/** The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or undefined for the shell form. */
export function execForm(s: string): string[] | undefined {
  const t = s.trim();
  if (!t.startsWith('[')) return undefined;
  const v = JSON.parse(t) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`not an exec form: ${s}`);
  return v;
}

/** COPY [--from=stage] src... dest */
export function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const parts = args.split(/\s+/);
  let from: string | undefined;
  while (parts[0]?.startsWith('--')) {
    const flag = parts.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  const dest = parts.pop()!;
  return { ...(from ? { from } : {}), sources: parts, dest };
}
