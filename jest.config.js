// Jest runs TypeScript through swc as native ESM (node --experimental-vm-modules).
// Projects: unit (*.spec.ts, no I/O), integration (*.int.spec.ts, real Kafka/Postgres/slapd) and
// e2e (*.e2e.spec.ts, all services). The stack is chosen once, in libs/shared/testing/src/global-setup.ts.
import { readFileSync } from 'node:fs';
import { globSync } from 'node:fs';

const swcrc = JSON.parse(readFileSync(new URL('./.swcrc', import.meta.url), 'utf8'));
const transform = { '^.+\\.ts$': ['@swc/jest', { ...swcrc, swcrc: false, module: { type: 'es6' }, sourceMaps: 'inline' }] };

// @provisio/<name> → the package's src/index.ts, so tests never need a build.
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };
for (const pkgFile of globSync(['libs/*/*/package.json', 'services/*/package.json'])) {
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  moduleNameMapper[`^${pkg.name}$`] = `<rootDir>/${pkgFile.replace(/package\.json$/, 'src/index.ts')}`;
  // Subpath exports (@provisio/<name>/<sub>) → the source file their types point at.
  for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
    if (sub !== '.' && typeof target?.types === 'string') moduleNameMapper[`^${pkg.name}/${sub.slice(2)}$`] = `<rootDir>/${pkgFile.replace(/package\.json$/, target.types.slice(2))}`;
  }
}

const common = {
  rootDir: '.',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  moduleNameMapper,
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.tools/', '/.data/'],
  modulePathIgnorePatterns: ['<rootDir>/.data/', '<rootDir>/.tools/', '/dist/'],
  watchPathIgnorePatterns: ['<rootDir>/.data/'],
};

const stack = {
  globalSetup: '<rootDir>/libs/shared/testing/src/global-setup.ts',
  globalTeardown: '<rootDir>/libs/shared/testing/src/global-teardown.ts',
};

export default {
  maxWorkers: 2,
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{libs,services,deploy,bench}/**/*.spec.ts'], testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.int\\.spec\\.ts$', '\\.e2e\\.spec\\.ts$'] },
    { ...common, ...stack, displayName: 'integration', testMatch: ['<rootDir>/{libs,services,deploy}/**/*.int.spec.ts'] },
    { ...common, ...stack, displayName: 'e2e', testMatch: ['<rootDir>/{libs,services,deploy}/**/*.e2e.spec.ts'] },
  ],
};
