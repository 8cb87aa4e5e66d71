import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { processesNaming, scriptsClone } from './clone.fixture';

// infra/local/up fetches the Kafka jars with Maven run in a build directory of its own: a
// relative CAUSEWAY_CACHE_DIR named another place there (its log could not be written, and up
// said "Maven failed" with no log to show; the jars' directory was another than up's).
describe('infra/local/up with a relative CAUSEWAY_CACHE_DIR', () => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CAUSEWAY_REDIS_PORT: '16503',
    CAUSEWAY_KAFKA_PORT: '16501',
    CAUSEWAY_KAFKA_CONTROLLER_PORT: '16502',
    CAUSEWAY_MONGODB_PORT: '16504',
    CAUSEWAY_CACHE_DIR: 'cache',
  };
  let clone: ReturnType<typeof scriptsClone>;

  beforeAll(() => {
    clone = scriptsClone('cachedir');
  });

  afterAll(() => clone.remove(env));

  it('fetches the Kafka jars under it, relative to where up runs, and starts Kafka', () => {
    const run = spawnSync('infra/local/up', ['kafka'], {
      cwd: clone.dir,
      encoding: 'utf8',
      env,
      timeout: 240_000,
    });

    expect(run.stderr).not.toMatch(/Maven failed|is missing/);
    expect(run.status).toBe(0);
    expect(
      existsSync(path.join(clone.dir, 'cache', 'kafka-3.9.1', 'libs', 'kafka_2.13-3.9.1.jar')),
    ).toBe(true);
    expect(processesNaming(path.join(clone.dir, '.infra')).length).toBeGreaterThan(0);
  }, 300_000);
});
