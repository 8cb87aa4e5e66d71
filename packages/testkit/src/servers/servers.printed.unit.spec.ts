import { execFileSync } from 'node:child_process';
import { repositoryRoot } from './local.resolver';
import { resolveServers } from './servers.resolver';

// What the start scripts and the test harness print about the servers they use: where they
// are, never the credentials in their URLs.
const env = {
  REDIS_URL: 'redis://:hunter2@redis.example:6380/2',
  KAFKA_BROKERS: 'kafka.example:9092',
  MONGODB_URI: 'mongodb://admin:hunter2@mongo.example:27017/causeway?authSource=admin',
};

describe('printed server addresses', () => {
  it('scripts/lib/servers.sh ensure_servers prints host:port/db, not user:password@', () => {
    const printed = execFileSync(
      'bash',
      ['-c', 'set -euo pipefail; source scripts/lib/servers.sh; ensure_servers'],
      { cwd: repositoryRoot(), env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' },
    );
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('admin:');
    expect(printed).toContain(
      '==> servers: REDIS_URL=redis://redis.example:6380/2 KAFKA_BROKERS=kafka.example:9092 ' +
        'MONGODB_URI=mongodb://mongo.example:27017/causeway?authSource=admin',
    );
  });

  it("the test harness's servers line names the servers without credentials", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const lines: string[] = [];
    try {
      await resolveServers(undefined, (line) => lines.push(line));
    } finally {
      for (const key of Object.keys(env)) process.env[key] = saved[key];
    }
    expect(lines.join('\n')).not.toContain('hunter2');
    expect(lines).toEqual([
      'servers: redis=redis://redis.example:6380/2 (env), kafka=kafka.example:9092 (env), ' +
        'mongodb=mongodb://mongo.example:27017/causeway?authSource=admin (env)',
    ]);
  });
});
