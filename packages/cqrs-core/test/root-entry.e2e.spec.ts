import { spawnSync } from 'node:child_process';
import path from 'node:path';

// The built package as a consumer loads it: the root entry must not pull in any optional peer
// (drivers, Nest), so an app that installs none of them can still use the core.
const root = path.resolve(__dirname, '..', '..', '..');

describe('the built root entry of @causeway/cqrs-core', () => {
  it('loads without requiring any driver or Nest', () => {
    const script = `
      const Module = require('node:module');
      const load = Module._load;
      const forbidden = /^(ioredis|kafkajs|mongoose|mongodb|@nestjs\\/)/;
      Module._load = function (request, ...rest) {
        if (forbidden.test(request)) throw new Error('root entry loaded ' + request);
        return load.call(this, request, ...rest);
      };
      require(${JSON.stringify(path.join(root, 'packages', 'cqrs-core', 'dist', 'index.js'))});
      process.stdout.write('loaded');
    `;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('loaded');
  });
});
