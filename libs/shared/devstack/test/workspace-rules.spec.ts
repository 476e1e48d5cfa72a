import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/index.js';

const root = projectRoot();

async function lint(code: string, filePath: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries (lint)', () => {
  it('fails when domain code imports kafkajs, typeorm, pg or @nestjs', async () => {
    for (const pkg of ['kafkajs', 'typeorm', 'pg', '@nestjs/common']) {
      const messages = await lint(`import * as x from '${pkg}';\nexport const y = x;\n`, 'libs/policy/domain/src/index.ts');
      expect(messages).toContainEqual(expect.stringMatching(new RegExp(`enforce-module-boundaries: .*type:domain.*not allowed to import "${pkg.replace('/', '\\/')}"`)));
    }
  }, 120_000);

  it('fails when a service imports another service scope', async () => {
    const messages = await lint(`import { decide } from '@provisio/hr-ingest-domain';\nexport const d = decide;\n`, 'services/policy/src/app.module.ts');
    expect(messages).toContainEqual(expect.stringMatching(/enforce-module-boundaries: .*"scope:policy" can only depend on libs tagged with "scope:policy", "scope:shared"/));
  }, 120_000);

  it('fails when a shared library imports a service-scoped one, and allows the reverse', async () => {
    expect(await lint(`import { decide } from '@provisio/hr-ingest-domain';\nexport const d = decide;\n`, 'libs/shared/messaging/src/index.ts')).toContainEqual(
      expect.stringMatching(/enforce-module-boundaries/),
    );
    const ok = await lint(`import { Topics } from '@provisio/contracts';\nexport const t = Topics;\n`, 'libs/hr-ingest/domain/src/index.ts');
    expect(ok.filter((m) => m.startsWith('@nx/'))).toEqual([]);
  }, 120_000);
});

describe('workspace layout', () => {
  it('has exactly the agreed top level', () => {
    const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((f) => f.split('/')[0]!);
    const top = [...new Set(tracked)].filter((f) => !f.startsWith('.')).sort();
    expect(top).toEqual(
      ['README.md', 'bench', 'deploy', 'docker-compose.yml', 'docs', 'eslint.config.mjs', 'jest.config.js', 'libs', 'nx.json', 'package-lock.json', 'package.json', 'schemas', 'services', 'tsconfig.base.json', 'tsconfig.json'].filter(
        (f) => existsSync(join(root, f)),
      ),
    );
    for (const required of ['services', 'libs', 'schemas', 'deploy', 'docker-compose.yml', 'nx.json', 'package.json', 'tsconfig.base.json']) expect(top).toContain(required);
  });

  it('every project declares a scope and a type tag, and TypeScript is strict everywhere', () => {
    const base = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(base.compilerOptions).toMatchObject({ strict: true, noUncheckedIndexedAccess: true });
    const projects = [...readdirSync(join(root, 'services')).map((d) => `services/${d}`), ...readdirSync(join(root, 'libs')).flatMap((s) => readdirSync(join(root, 'libs', s)).map((d) => `libs/${s}/${d}`))];
    for (const p of projects) {
      const project = JSON.parse(readFileSync(join(root, p, 'project.json'), 'utf8')) as { tags: string[] };
      expect(project.tags.filter((t) => t.startsWith('scope:'))).toHaveLength(1);
      expect(project.tags.filter((t) => /^type:(app|domain|adapter|contracts|util)$/.test(t))).toHaveLength(1);
      const ts = JSON.parse(readFileSync(join(root, p, 'tsconfig.json'), 'utf8')) as { compilerOptions?: Record<string, unknown> };
      expect(ts.compilerOptions?.['strict']).not.toBe(false);
      expect(ts.compilerOptions?.['strictNullChecks']).not.toBe(false);
    }
  });

  it('services start from a three-line main.ts that hands over to bootstrap()', () => {
    for (const svc of readdirSync(join(root, 'services'))) {
      const main = readFileSync(join(root, 'services', svc, 'src', 'main.ts'), 'utf8').trim().split('\n');
      expect(main).toHaveLength(3);
      expect(main[0]).toContain('startTelemetry');
      expect(main[2]).toContain("import('./bootstrap.js')");
    }
  });
});
