// Shared jest 30 preset for every workspace package and app.
// - @swc/jest compiles TypeScript with legacy decorators and decorator metadata (Nest DI needs them).
// - Workspace packages resolve to their `src` through the "@causeway/source" export condition,
//   so unit tests never need a build.
// - Two projects: `unit` (*.unit.spec.ts, no servers) and `int` (*.int.spec.ts and *.e2e.spec.ts,
//   real Redis / Kafka / MongoDB resolved once by the global setup).
const path = require('node:path');

const swcTransform = [
  require.resolve('@swc/jest'),
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
      target: 'es2022',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

function base(rootDir, displayName) {
  return {
    displayName,
    rootDir,
    testEnvironment: 'node',
    testEnvironmentOptions: {
      customExportConditions: ['@causeway/source', 'node', 'require', 'default'],
    },
    transform: { '^.+\\.(t|j)sx?$': swcTransform },
    moduleFileExtensions: ['ts', 'tsx', 'js', 'cjs', 'json'],
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    clearMocks: true,
  };
}

/**
 * @param {string} rootDir the package directory (pass __dirname)
 */
function createJestConfig(rootDir) {
  return {
    projects: [
      {
        ...base(rootDir, 'unit'),
        testMatch: ['<rootDir>/{src,test}/**/*.unit.spec.ts'],
        setupFilesAfterEnv: [path.join(__dirname, 'setup-unit.cjs')],
      },
      {
        ...base(rootDir, 'int'),
        testMatch: ['<rootDir>/{src,test}/**/*.{int,e2e}.spec.ts'],
        globalSetup: path.join(__dirname, '..', 'src', 'servers', 'global-setup.ts'),
        globalTeardown: path.join(__dirname, '..', 'src', 'servers', 'global-teardown.ts'),
        setupFilesAfterEnv: [path.join(__dirname, 'setup-int.cjs')],
      },
    ],
  };
}

module.exports = { createJestConfig };
