import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { processesNaming, scriptsClone } from './clone.fixture';

// infra/local/up's and down's own settings: a bad value must be refused at once, naming the
// setting, before anything starts or stops. `CAUSEWAY_INFRA_READY_TIMEOUT=90s` started the
// server, failed the readiness probe on its usage ("usage: probe.mjs …"), stopped the server
// again and reported it "not ready".
describe('infra/local settings', () => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CAUSEWAY_REDIS_PORT: '16445',
    CAUSEWAY_KAFKA_PORT: '16446',
    CAUSEWAY_KAFKA_CONTROLLER_PORT: '16447',
    CAUSEWAY_MONGODB_PORT: '16448',
  };
  let clone: ReturnType<typeof scriptsClone>;

  beforeAll(() => {
    clone = scriptsClone('settings');
  });

  afterAll(() => clone.remove(env));

  it.each([
    ['up', 'CAUSEWAY_INFRA_READY_TIMEOUT', '90s'],
    ['up', 'CAUSEWAY_INFRA_READY_TIMEOUT', '0'],
    ['down', 'CAUSEWAY_INFRA_STOP_TIMEOUT', '30s'],
  ])(
    '%s refuses %s=%s, naming it, and starts nothing',
    (script, name, value) => {
      const run = spawnSync(`infra/local/${script}`, ['redis'], {
        cwd: clone.dir,
        encoding: 'utf8',
        env: { ...env, [name]: value },
        timeout: 60_000,
      });

      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`${name}='${value}'`);
      expect(run.stderr).toMatch(/whole number of seconds/);
      expect(processesNaming(path.join(clone.dir, '.infra'))).toEqual([]);
    },
    90_000,
  );

  it.each(['016509', '016501'])(
    'up refuses a port with a leading zero (CAUSEWAY_REDIS_PORT=%s), naming it, and starts nothing',
    (value) => {
      // Bash arithmetic reads a leading zero as octal: 016509 failed it without naming the
      // setting, and 016501 passed as port 7489.
      const run = spawnSync('infra/local/up', ['redis'], {
        cwd: clone.dir,
        encoding: 'utf8',
        env: { ...env, CAUSEWAY_REDIS_PORT: value },
        timeout: 60_000,
      });

      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`CAUSEWAY_REDIS_PORT='${value}' is not a valid TCP port`);
      expect(processesNaming(path.join(clone.dir, '.infra'))).toEqual([]);
    },
    90_000,
  );

  it('names a JAVA_HOME without bin/java, rather than asking to set it', () => {
    const javaHome = path.join(clone.dir, 'no-java-here');
    const run = spawnSync('infra/local/up', ['kafka'], {
      cwd: clone.dir,
      encoding: 'utf8',
      env: { ...env, JAVA_HOME: javaHome },
      timeout: 60_000,
    });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`JAVA_HOME='${javaHome}' has no bin/java`);
    expect(processesNaming(path.join(clone.dir, '.infra'))).toEqual([]);
  }, 90_000);
});
