import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processesNaming, repoRoot, scriptsClone } from './clone.fixture';

// scripts/lib/servers.sh's ensure_servers (npm test, npm run bench) stops the servers it started
// when the script exits. A start that fails part-way — one server up, the next not ready, or
// Ctrl-C while waiting — must not leave the servers already started running behind it.
describe('ensure_servers (scripts/lib/servers.sh)', () => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CAUSEWAY_REDIS_PORT: '16441',
    CAUSEWAY_KAFKA_PORT: '16442',
    CAUSEWAY_KAFKA_CONTROLLER_PORT: '16443',
    CAUSEWAY_MONGODB_PORT: '16444',
    // Only Redis and Kafka are started here.
    MONGODB_URI: 'mongodb://127.0.0.1:1/unused',
  };
  let clone: ReturnType<typeof scriptsClone>;

  beforeAll(() => {
    clone = scriptsClone('servers');
    // A Kafka that cannot start: its broker refuses a setting.
    const template = path.join(clone.dir, 'infra', 'local', 'kafka', 'server.properties.template');
    writeFileSync(template, readFileSync(template, 'utf8').replace(/^node\.id=.*$/m, 'node.id=-7'));
  });

  afterAll(() => clone.remove(env));

  it('stops the servers it started when a later one does not come up', () => {
    const run = spawnSync(
      'bash',
      [
        '-c',
        `set -euo pipefail
         source "$ROOT/scripts/lib/servers.sh"
         ensure_servers
         echo "went on without the servers"`,
      ],
      { cwd: clone.dir, encoding: 'utf8', env: { ...env, ROOT: repoRoot }, timeout: 150_000 },
    );

    expect(run.stdout).not.toContain('went on without the servers');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/kafka/);
    expect(processesNaming(path.join(clone.dir, '.infra'))).toEqual([]);
  }, 180_000);

  it('stops the servers it started on Ctrl-C while it waits for the next one', async () => {
    const template = path.join(clone.dir, 'infra', 'local', 'kafka', 'server.properties.template');
    const original = path.join(repoRoot, 'infra', 'local', 'kafka', 'server.properties.template');
    writeFileSync(template, readFileSync(original, 'utf8')); // a Kafka that starts, slowly
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    const run = spawn(
      'bash',
      [
        '-c',
        `set -euo pipefail
         source "$ROOT/scripts/lib/servers.sh"
         ensure_servers
         echo "went on without the servers"`,
      ],
      { cwd: clone.dir, env: { ...env, ROOT: repoRoot }, detached: true, stdio: 'pipe' },
    );
    let output = '';
    // 'close', not 'exit': the pipes may still hold the script's last lines when it has exited.
    const exited = new Promise<number | null>((resolve) => run.once('close', resolve));
    await new Promise<void>((resolve) => {
      const seen = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        // Redis is up, Kafka is being waited for.
        if (/redis: ready/.test(output)) resolve();
      };
      run.stdout.on('data', seen);
      run.stderr.on('data', seen);
      // Ended before (no redis-server, java or Kafka jars to start them with): said below.
      void exited.then(() => resolve());
    });
    // The servers' toolchain as infra/local/up installs it (Redis, Java, the Kafka jars).
    expect(output).toMatch(/redis: ready/);
    process.kill(-run.pid!, 'SIGINT');
    const code = await exited;

    expect(output).not.toContain('went on without the servers');
    expect(code).not.toBe(0);
    expect(processesNaming(path.join(clone.dir, '.infra'))).toEqual([]);
  }, 180_000);
});
