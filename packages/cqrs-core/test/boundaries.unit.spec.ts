import { spawnSync } from 'node:child_process';
import path from 'node:path';

// The root entry of @causeway/cqrs-core must load without any driver or Nest installed:
// the lint rule in eslint.config.mjs enforces it. These tests prove the rule bites.
const root = path.resolve(__dirname, '..', '..', '..');

function lint(source: string, file: string): string[] {
  const result = spawnSync(
    path.join(root, 'node_modules', '.bin', 'eslint'),
    ['--stdin', '--stdin-filename', path.join(root, file), '--format', 'json'],
    { cwd: root, input: source, encoding: 'utf8' },
  );
  const [report] = JSON.parse(result.stdout) as [
    { messages: { ruleId: string | null; message: string }[] },
  ];
  return report.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('package boundaries of @causeway/cqrs-core', () => {
  it.each(['ioredis', 'kafkajs', 'mongoose', 'mongodb', '@nestjs/common', '@opentelemetry/api'])(
    'fails lint when core code imports %s',
    (module) => {
      const errors = lint(
        `import * as x from '${module}';\nexport const y = x;\n`,
        'packages/cqrs-core/src/health/probe.ts',
      );
      expect(errors.some((message) => message.includes('optional peer dependency'))).toBe(true);
    },
  );

  it('fails lint when core code reaches into an adapter entry point', () => {
    const errors = lint(
      `export * from '../redis/redis.connection';\n`,
      'packages/cqrs-core/src/health/probe.ts',
    );
    expect(errors[0]).toContain('adapters depend on the core');
  });

  it('lets the adapter folders import their driver', () => {
    expect(
      lint(
        `import Redis from 'ioredis';\nexport const r = Redis;\n`,
        'packages/cqrs-core/src/redis/x.ts',
      ),
    ).toEqual([]);
    expect(
      lint(
        `import { Module } from '@nestjs/common';\nexport const m = Module;\n`,
        'packages/cqrs-core/src/nest/x.ts',
      ),
    ).toEqual([]);
  });
});
