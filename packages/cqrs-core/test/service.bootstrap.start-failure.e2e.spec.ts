import { spawnSync } from 'node:child_process';
import path from 'node:path';

// The built package, as a service's main file runs it: bootstrapService ends the process.
const packageDir = path.resolve(__dirname, '..');

describe('bootstrapService when the app cannot start', () => {
  it("logs the failure's causes in its fatal line, without the credentials they quote", () => {
    const script = `
      const { z } = require('zod');
      const { bootstrapService } = require(${JSON.stringify(path.join(packageDir, 'dist', 'nest', 'index.js'))});
      void bootstrapService({
        service: 'probe',
        configuration: z.object({}),
        env: {},
        listen: () => ({ port: 0, host: '127.0.0.1' }),
        module: () => {
          throw new Error('the event store is unreachable', {
            cause: new Error('connect ECONNREFUSED mongodb://app:s3cretpw@db:27017/orders'),
          });
        },
      });
    `;
    const result = spawnSync(process.execPath, ['-e', script], {
      cwd: packageDir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const fatal = result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string; err: { stack: string } })
      .filter((entry) => entry.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toBe(
      'start-up failed: the event store is unreachable; caused by Error: connect ECONNREFUSED ' +
        'mongodb://[Redacted]@db:27017/orders',
    );
    expect(fatal[0]!.err.stack).toMatch(
      /^Error: the event store is unreachable\n[\s\S]*\nCaused by: Error: connect ECONNREFUSED mongodb:\/\/\[Redacted\]@db:27017\/orders\n/,
    );
    expect(result.stderr + result.stdout).not.toContain('s3cretpw');
  });
  it('redacts the credentials the failure itself quotes, not only its causes', () => {
    const script = `
      const { z } = require('zod');
      const { bootstrapService } = require(${JSON.stringify(path.join(packageDir, 'dist', 'nest', 'index.js'))});
      void bootstrapService({
        service: 'probe',
        configuration: z.object({}),
        env: {},
        listen: () => ({ port: 0, host: '127.0.0.1' }),
        module: () => {
          throw new Error('cannot reach redis://:s3cretpw@cache:6379/0');
        },
      });
    `;
    const result = spawnSync(process.execPath, ['-e', script], {
      cwd: packageDir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const fatal = result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((entry) => entry.level === 60);
    expect(fatal.map((entry) => entry.msg)).toEqual([
      'start-up failed: cannot reach redis://[Redacted]@cache:6379/0',
    ]);
    expect(result.stderr + result.stdout).not.toContain('s3cretpw');
  });
});
