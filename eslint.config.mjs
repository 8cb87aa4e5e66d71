// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

/** Drivers and frameworks that only adapter entry points of @causeway/cqrs-core may import. */
export const ADAPTER_ONLY_MODULES = ['mongoose', 'mongodb', 'ioredis', 'kafkajs'];
const adapterOnlyPatterns = [
  ...ADAPTER_ONLY_MODULES.map((name) => ({
    group: [name, `${name}/*`],
    message: `${name} is an optional peer dependency: import it only under src/{mongodb,redis,kafka}/ so the root entry works without it.`,
  })),
  {
    group: ['@nestjs/*'],
    message: '@nestjs/* is an optional peer dependency: import it only under src/nest/.',
  },
  {
    group: ['@opentelemetry/*'],
    message:
      '@opentelemetry/* is an optional peer dependency: import it only under src/opentelemetry/.',
  },
  {
    group: [
      '**/mongodb',
      '**/mongodb/**',
      '**/redis',
      '**/redis/**',
      '**/kafka',
      '**/kafka/**',
      '**/nest',
      '**/nest/**',
      '**/opentelemetry',
      '**/opentelemetry/**',
      '**/testing',
      '**/testing/**',
    ],
    message:
      'The core must not reach into an adapter entry point; adapters depend on the core, never the reverse.',
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/.turbo/**',
      '.infra/**',
      '**/coverage/**',
      '**/*.cjs',
      'infra/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'error',
    },
  },
  {
    // The demo page's script runs in browsers.
    files: ['apps/embedded/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },
  {
    // The core of @causeway/cqrs-core stays free of drivers and of Nest (STYLE.md §5).
    files: ['packages/cqrs-core/src/**/*.ts'],
    ignores: [
      'packages/cqrs-core/src/mongodb/**',
      'packages/cqrs-core/src/redis/**',
      'packages/cqrs-core/src/kafka/**',
      'packages/cqrs-core/src/nest/**',
      'packages/cqrs-core/src/opentelemetry/**',
      'packages/cqrs-core/src/testing/**',
      // Specs (and their fixtures) may use the test kit of ./testing and any adapter.
      'packages/cqrs-core/src/**/*.spec.ts',
      'packages/cqrs-core/src/projections/*.fixture.ts',
    ],
    rules: { 'no-restricted-imports': ['error', { patterns: adapterOnlyPatterns }] },
  },
  {
    files: [
      '**/*.spec.ts',
      '**/test/**/*.ts',
      'bench/**/*.ts',
      'scripts/**',
      'infra/**',
      '**/cli/**',
    ],
    rules: { 'no-console': 'off' },
  },
);
