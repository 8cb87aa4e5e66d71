import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { processesNaming, scriptsClone } from './clone.fixture';

// infra/local/up interrupted part-way (Ctrl-C while it formats a new Kafka's storage) left the
// Redis it had started running, and .infra/env as it was: a run the user aborted kept a server.
describe('infra/local/up interrupted', () => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CAUSEWAY_REDIS_PORT: '16461',
    CAUSEWAY_KAFKA_PORT: '16462',
    CAUSEWAY_KAFKA_CONTROLLER_PORT: '16463',
    CAUSEWAY_MONGODB_PORT: '16464',
  };
  let clone: ReturnType<typeof scriptsClone>;

  beforeAll(() => {
    clone = scriptsClone('interrupt');
  });

  afterAll(() => clone.remove(env));

  it('stops the servers it started on Ctrl-C, while it formats a new Kafka, and says so', async () => {
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    const run = spawn('infra/local/up', ['redis', 'kafka'], {
      cwd: clone.dir,
      env,
      detached: true,
      stdio: 'pipe',
    });
    let output = '';
    // 'close', not 'exit': the pipes may still hold the script's last lines when it has exited.
    const exited = new Promise<number | null>((resolve) => run.once('close', resolve));
    await new Promise<void>((resolve) => {
      const seen = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        // Redis is started, Kafka's storage is being formatted (a new clone has none).
        if (/kafka: formatting/.test(output)) resolve();
      };
      run.stdout.on('data', seen);
      run.stderr.on('data', seen);
      // Ended before (no redis-server, java or Kafka jars to start them with): said below.
      void exited.then(() => resolve());
    });
    expect(output).toMatch(/kafka: formatting/);
    process.kill(-run.pid!, 'SIGINT');
    const code = await exited;

    expect(code).toBe(130);
    expect(processesNaming(path.join(clone.dir, '.infra'))).toEqual([]);
    expect(output).toContain('interrupted: stopping what this run started: redis kafka');
    expect(readFileSync(path.join(clone.dir, '.infra', 'env'), 'utf8')).not.toMatch(
      /REDIS_URL|KAFKA_BROKERS/,
    );
  }, 180_000);
});
