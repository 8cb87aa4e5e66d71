import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runLauncher } from './launcher.run';
import { launchSystem, stopSystem, type RunningInstance } from './system.launcher';
import { APPS } from './system.topology';

/** The temporary directories this file made: removed when it is done (they were left behind). */
const made: string[] = [];
function tempRoot(prefix: string): string {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(root);
  return root;
}
afterAll(() => {
  for (const root of made.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A stand-in app under <root>/apps/echo: ready at once, GET /env answers its environment. */
function echoAppRoot(): string {
  const root = tempRoot('launcher-');
  mkdirSync(path.join(root, 'apps', 'echo', 'dist'), { recursive: true });
  writeFileSync(
    path.join(root, 'apps', 'echo', 'dist', 'main.js'),
    `require('node:http')
      .createServer((request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(request.url === '/env' ? JSON.stringify(process.env) : '{}');
      })
      .listen(Number(process.env.PORT), '127.0.0.1');
    process.on('SIGTERM', () => process.exit(0));`,
  );
  return root;
}

/** An app that refuses to start as bootstrapService does: a fatal JSON line, exit code 1. */
function refusingAppRoot(): string {
  const root = tempRoot('launcher-');
  mkdirSync(path.join(root, 'apps', 'refusing', 'dist'), { recursive: true });
  const line = JSON.stringify({
    level: 60,
    time: 0,
    service: 'refusing',
    msg: 'Invalid configuration: JWT_SECRET: must be at least 32 characters',
  });
  writeFileSync(
    path.join(root, 'apps', 'refusing', 'dist', 'main.js'),
    // The fatal line first, then a mere error line (Nest's own, say) after it on the other pipe.
    `process.stdout.write('{"level":30,"msg":"starting"}\\n');
    process.stderr.write(${JSON.stringify(line + '\n')}, () => setTimeout(() =>
      process.stdout.write('{"level":50,"msg":"Error: listen EADDRINUSE"}\\n', () =>
        setTimeout(() => process.exit(1), 200)), 100));`,
  );
  return root;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('launchSystem', () => {
  let running: RunningInstance[] = [];
  afterEach(async () => {
    await stopSystem(running.splice(0), 2_000);
  });

  it('stops the instances it started when starting another one fails (its log file cannot be written)', async () => {
    const root = echoAppRoot();
    const logDir = path.join(root, 'logs');
    // echo-2's log file is a directory: appending to it throws before echo-2 is spawned.
    mkdirSync(path.join(logDir, 'echo-2.log'), { recursive: true });
    const [first, second] = [await freePort(), await freePort()];
    await expect(
      launchSystem(
        [
          { app: 'echo', instanceId: 'echo-1', port: first, env: { PORT: String(first) } },
          { app: 'echo', instanceId: 'echo-2', port: second, env: { PORT: String(second) } },
        ],
        { root, logDir, readyTimeoutMs: 10_000, stopGraceMs: 2_000 },
      ),
    ).rejects.toThrow(/echo-2\.log/);
    // Time enough for a process left running to listen: echo-1 was stopped, nothing answers.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await expect(fetch(`http://127.0.0.1:${first}/env`)).rejects.toThrow();
  });

  it('says why an app that refused to start did, from its fatal log line', async () => {
    const root = refusingAppRoot();
    const port = await freePort();
    await expect(
      launchSystem([{ app: 'refusing', instanceId: 'refusing-1', port, env: {} }], {
        root,
        logDir: path.join(root, 'logs'),
        readyTimeoutMs: 10_000,
      }),
    ).rejects.toThrow(
      'refusing-1 exited with code 1 before it was ready: Invalid configuration: JWT_SECRET: must be at least 32 characters; see',
    );
  });

  it('names the servers an unready app still cannot reach, not one it reached since', async () => {
    const root = tempRoot('launcher-');
    mkdirSync(path.join(root, 'apps', 'unready', 'dist'), { recursive: true });
    const line = (level: number, msg: string) =>
      JSON.stringify({ level, context: 'Connections', msg }) + '\n';
    // As ConnectionsLifecycle logs: mongodb unreachable; redis unreachable, then connected.
    const lines =
      line(40, 'mongodb to mongodb://127.0.0.1:2 unreachable (… (MONGODB_URI): ECONNREFUSED)') +
      line(40, 'redis to redis://127.0.0.1:1 unreachable (… (REDIS_URL): ECONNREFUSED)') +
      line(30, 'redis connected at redis://127.0.0.1:1');
    writeFileSync(
      path.join(root, 'apps', 'unready', 'dist', 'main.js'),
      `process.stdout.write(${JSON.stringify(lines)});
      require('node:http')
        .createServer((request, response) => {
          response.writeHead(503, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ status: 'error', error: { mongodb: { status: 'down' } } }));
        })
        .listen(Number(process.env.PORT), '127.0.0.1');
      process.on('SIGTERM', () => process.exit(0));`,
    );
    const port = await freePort();
    const failure = await launchSystem(
      [{ app: 'unready', instanceId: 'unready-1', port, env: { PORT: String(port) } }],
      { root, logDir: path.join(root, 'logs'), readyTimeoutMs: 1_500 },
    ).then(
      () => new Error('ready'),
      (error: unknown) => error as Error,
    );
    expect(failure.message).toMatch(
      /^unready-1 not ready within 1500 ms \(last: 503 \(down: mongodb\)\); mongodb to mongodb:\/\/127\.0\.0\.1:2 unreachable \(… \(MONGODB_URI\): ECONNREFUSED\); see /,
    );
    expect(failure.message).not.toContain('REDIS_URL');
  });

  it('tells, while an instance is not ready, how long it has waited and what its last answer said', async () => {
    // A projection-worker catching up from a large event store answers 503 for minutes: the
    // launcher said nothing until its timeout, a wait that looked like a hang.
    const root = tempRoot('launcher-');
    mkdirSync(path.join(root, 'apps', 'slow', 'dist'), { recursive: true });
    writeFileSync(
      path.join(root, 'apps', 'slow', 'dist', 'main.js'),
      `const readyAt = Date.now() + 1_200;
      require('node:http')
        .createServer((request, response) => {
          const ready = Date.now() >= readyAt;
          response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
          response.end(ready ? '{}' : JSON.stringify({ status: 'error', error: { 'read-models': { status: 'down' } } }));
        })
        .listen(Number(process.env.PORT), '127.0.0.1');
      process.on('SIGTERM', () => process.exit(0));`,
    );
    const port = await freePort();
    const lines: string[] = [];
    running = await launchSystem(
      [{ app: 'slow', instanceId: 'slow-1', port, env: { PORT: String(port) } }],
      {
        root,
        logDir: path.join(root, 'logs'),
        readyTimeoutMs: 10_000,
        progressEveryMs: 400,
        log: (line) => lines.push(line),
      },
    );
    const waiting = lines.filter((line) => line.startsWith('waiting slow-1'));
    expect(waiting.length).toBeGreaterThanOrEqual(1);
    expect(waiting[0]).toMatch(
      /^waiting slow-1 +\d+ s of 10 s \(last: 503 \(down: read-models\)\)$/,
    );
    expect(lines.at(-1)).toMatch(/^ready +slow-1 /);
  });

  it("passes the app settings of the launcher's environment to every app, the plan winning", async () => {
    const root = echoAppRoot();
    const port = await freePort();
    running = await launchSystem(
      [
        {
          app: 'echo',
          instanceId: 'echo-1',
          port,
          env: { PORT: String(port), INSTANCE_ID: 'echo-1', LOG_LEVEL: 'warn' },
        },
      ],
      {
        root,
        logDir: path.join(root, 'logs'),
        readyTimeoutMs: 5_000,
        environment: {
          TOPIC_PREFIX: 'staging-',
          COMMAND_TIMEOUT_MS: '5000',
          HEARTBEAT_MS: '1000',
          LOG_LEVEL: 'debug', // the plan sets it: the plan's value wins
          PORT: '1', // likewise
          AWS_SECRET_ACCESS_KEY: 'not-a-setting', // not an app setting: stays with the launcher
        },
      },
    );

    const env = (await (await fetch(`http://127.0.0.1:${port}/env`)).json()) as Record<
      string,
      string
    >;
    expect(env).toMatchObject({
      TOPIC_PREFIX: 'staging-',
      COMMAND_TIMEOUT_MS: '5000',
      HEARTBEAT_MS: '1000',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      // The app stops by itself when the launcher dies without stopping it.
      SUPERVISOR_PID: String(process.pid),
    });
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });
});

/** Whether process `pid` still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * An app under <root>/apps/<name> that does not listen itself: it starts a detached process
 * that answers 200 on its PORT (as an old run's instance would), writes that process's pid to
 * <root>/stranger.pid, and exits with code 1 after `exitAfterMs` (never when undefined).
 */
function appWithStranger(exitAfterMs: number | undefined): string {
  const root = tempRoot('launcher-');
  mkdirSync(path.join(root, 'apps', 'late', 'dist'), { recursive: true });
  const stranger = `require('node:http').createServer((q, r) => r.end('{}')).listen(Number(process.env.PORT), '127.0.0.1')`;
  writeFileSync(
    path.join(root, 'apps', 'late', 'dist', 'main.js'),
    `const { spawn } = require('node:child_process');
    const other = spawn(process.execPath, ['-e', ${JSON.stringify(stranger)}], {
      detached: true, stdio: 'ignore', env: process.env,
    });
    other.unref();
    require('node:fs').writeFileSync(${JSON.stringify(path.join(root, 'stranger.pid'))}, String(other.pid));
    ${exitAfterMs === undefined ? 'setInterval(() => undefined, 1000);' : `setTimeout(() => process.exit(1), ${exitAfterMs});`}
    process.on('SIGTERM', () => process.exit(0));`,
  );
  return root;
}

describe('launchSystem, when something else holds a port', () => {
  const strangers: number[] = [];
  const servers: Server[] = [];
  let running: RunningInstance[] = [];
  afterEach(async () => {
    await stopSystem(running.splice(0), 2_000);
    for (const pid of strangers.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  const late = (port: number) => ({
    app: 'late',
    instanceId: 'late-1',
    port,
    env: { PORT: String(port), INSTANCE_ID: 'late-1' },
  });

  it('fails before starting anything when a port it needs is taken, naming it', async () => {
    const root = echoAppRoot();
    const port = await freePort();
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const edgePort = (taken.address() as AddressInfo).port;

    await expect(
      launchSystem([{ app: 'echo', instanceId: 'echo-1', port, env: { PORT: String(port) } }], {
        root,
        logDir: path.join(root, 'logs'),
        readyTimeoutMs: 5_000,
        alsoNeeds: [{ port: edgePort, host: '127.0.0.1', owner: 'edge proxy' }],
      }),
    ).rejects.toThrow(`port not free: 127.0.0.1:${edgePort} (edge proxy: EADDRINUSE)`);
    expect(existsSync(path.join(root, 'logs'))).toBe(false); // nothing started, no log touched
  });

  it('does not count an answer from another process on the port: a child that exits failed', async () => {
    const root = appWithStranger(1_500);
    const port = await freePort();
    const launching = launchSystem([late(port)], {
      root,
      logDir: path.join(root, 'logs'),
      readyTimeoutMs: 10_000,
    });
    launching.then((started) => (running = started)).catch(() => undefined);
    const pidFile = path.join(root, 'stranger.pid');
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '');
    strangers.push(Number(readFileSync(pidFile, 'utf8')));

    await expect(launching).rejects.toThrow('late-1 exited with code 1 before it was ready');
  });

  // The launcher runs where its local servers do (infra/local/up: Debian packages): Linux.
  it('is not ready while only another process answers on its port', async () => {
    const root = appWithStranger(undefined);
    const port = await freePort();
    const launching = launchSystem([late(port)], {
      root,
      logDir: path.join(root, 'logs'),
      readyTimeoutMs: 2_000,
    });
    launching.then((started) => (running = started)).catch(() => undefined);
    const pidFile = path.join(root, 'stranger.pid');
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '');
    strangers.push(Number(readFileSync(pidFile, 'utf8')));

    await expect(launching).rejects.toThrow(
      `late-1 not ready within 2000 ms (last: 200 from another process on port ${port})`,
    );
  });

  it('appends to the log of an earlier run instead of truncating it', async () => {
    const root = echoAppRoot();
    const logDir = path.join(root, 'logs');
    mkdirSync(logDir);
    writeFileSync(path.join(logDir, 'echo-1.log'), 'the earlier run\n');
    const port = await freePort();
    running = await launchSystem(
      [{ app: 'echo', instanceId: 'echo-1', port, env: { PORT: String(port) } }],
      { root, logDir, readyTimeoutMs: 5_000 },
    );
    const log = readFileSync(path.join(logDir, 'echo-1.log'), 'utf8');
    expect(log).toMatch(
      new RegExp(
        `^the earlier run\\n\\n===== \\S+ causeway-launch \\(pid \\d+\\) starts echo-1 on port ${port} =====\\n`,
      ),
    );
  });
});

describe('runLauncher', () => {
  /**
   * A repository root whose five apps are stand-ins: each writes its pid to <root>/pids/<id>
   * and answers 200 on its PORT; command-api also takes `alsoListenOn` once it runs.
   */
  function standInRoot(alsoListenOn?: number): string {
    const root = tempRoot('launcher-run-');
    mkdirSync(path.join(root, 'pids'));
    for (const { app } of APPS) {
      mkdirSync(path.join(root, 'apps', app, 'dist'), { recursive: true });
      const extra = app === 'command-api' ? alsoListenOn : undefined;
      writeFileSync(
        path.join(root, 'apps', app, 'dist', 'main.js'),
        `const http = require('node:http');
        require('node:fs').writeFileSync(
          require('node:path').join(${JSON.stringify(path.join(root, 'pids'))}, process.env.INSTANCE_ID),
          String(process.pid),
        );
        const answer = (request, response) => response.end('{}');
        http.createServer(answer).listen(Number(process.env.PORT), '127.0.0.1');
        ${extra === undefined ? '' : `http.createServer(answer).listen(${extra}, '127.0.0.1');`}
        process.on('SIGTERM', () => process.exit(0));`,
      );
    }
    return root;
  }
  const pidsOf = (root: string) =>
    [
      'command-api-1',
      'trainer-service-1',
      'order-processor-1',
      'projection-worker-1',
      'sse-gateway-1',
    ]
      .map((id) => path.join(root, 'pids', id))
      .filter((file) => existsSync(file))
      .map((file) => Number(readFileSync(file, 'utf8')));
  // Ports 10 000–15 999: clear of the servers (16379, 19092, 37017), the e2e tests' 23 000+
  // and Linux's ephemeral range.
  const portBase = () => 10_000 + 10 * Math.floor(Math.random() * 500);
  const environment = (base: number, edgePort: number): NodeJS.ProcessEnv => ({
    REDIS_URL: 'redis://127.0.0.1:1',
    KAFKA_BROKERS: '127.0.0.1:1',
    MONGODB_URI: 'mongodb://127.0.0.1:1/x',
    ADMIN_TOKEN: 'a-test-admin-token-123',
    JWT_SECRET: 'a-test-jwt-secret-0123456789-0123456789',
    APP_PORT_BASE: String(base),
    EDGE_PORT: String(edgePort),
  });
  const leftovers: number[] = [];
  afterEach(() => {
    for (const pid of leftovers.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('prints the usage for --help and starts nothing', async () => {
    const root = standInRoot();
    const out: string[] = [];
    await runLauncher({
      args: ['--help'],
      env: {},
      root,
      stop: new AbortController().signal,
      out: (text) => out.push(text),
      err: () => undefined,
    });
    expect(out.join('')).toMatch(/^Usage: causeway-launch/);
    expect(pidsOf(root)).toEqual([]);
  });

  it('refuses a DEV_TOKENS the apps would not read, naming it, and starts nothing', async () => {
    const root = standInRoot();
    const run = runLauncher({
      args: [],
      env: { DEV_TOKENS: 'yes' },
      root,
      stop: new AbortController().signal,
      out: () => undefined,
      err: () => undefined,
    });
    await expect(run).rejects.toThrow('DEV_TOKENS must be true or false (or 1 or 0), got "yes"');
    expect(pidsOf(root)).toEqual([]);
  });

  it('refuses an EDGE_UPSTREAM_TIMEOUT_MS no timer can hold, naming it, and starts nothing', async () => {
    // Node fires a timer set beyond 2^31-1 ms after 1 ms: every request through the edge
    // would have been answered 504 at once.
    const root = standInRoot();
    for (const [value, why] of [
      ['3000000000', 'must be at most 2147483647 ms (~24.8 days, the longest timer)'],
      ['0', 'must be at least 1 ms'],
      ['30s', 'must be a duration in milliseconds'],
    ] as const) {
      const run = runLauncher({
        args: [],
        env: { EDGE_UPSTREAM_TIMEOUT_MS: value },
        root,
        stop: new AbortController().signal,
        out: () => undefined,
        err: () => undefined,
      });
      await expect(run).rejects.toThrow(`EDGE_UPSTREAM_TIMEOUT_MS: ${why}, got "${value}"`);
    }
    expect(pidsOf(root)).toEqual([]);
  });

  it('refuses a READY_TIMEOUT_MS no timer can hold, naming it, and starts nothing', async () => {
    const root = standInRoot();
    for (const [value, why] of [
      ['3000000000', 'must be at most 2147483647 ms (~24.8 days, the longest timer)'],
      ['0', 'must be at least 1 ms'],
      ['3m', 'must be a duration in milliseconds'],
    ] as const) {
      const run = runLauncher({
        args: [],
        env: { READY_TIMEOUT_MS: value },
        root,
        stop: new AbortController().signal,
        out: () => undefined,
        err: () => undefined,
      });
      await expect(run).rejects.toThrow(`READY_TIMEOUT_MS: ${why}, got "${value}"`);
    }
    expect(pidsOf(root)).toEqual([]);
  });

  it('names EDGE_HOST when the edge cannot listen on that host, not a port taken, and starts nothing', async () => {
    const root = standInRoot();
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    // An address of no machine here (TEST-NET-1), a name no one resolves, a stray space.
    for (const [host, why] of [
      ['192.0.2.1', 'is not an address of this machine (EADDRNOTAVAIL)'],
      ['edge.invalid', 'is not a host name this machine resolves (ENOTFOUND)'],
      ['127.0.0.1 ', 'is not a host name this machine resolves (ENOTFOUND)'],
    ] as const) {
      const run = runLauncher({
        args: [],
        env: { ...environment(portBase(), edgePort), EDGE_HOST: host },
        root,
        stop: new AbortController().signal,
        out: () => undefined,
        err: () => undefined,
      });
      const error = (await run.then(
        () => new Error('started'),
        (reason: unknown) => reason as Error,
      )) as Error;
      expect(error.message).toBe(
        `cannot listen on ${host}:${edgePort} (edge proxy): "${host}" ${why}; ` +
          'set EDGE_HOST to an address of this machine (127.0.0.1, 0.0.0.0, …)',
      );
    }
    expect(pidsOf(root)).toEqual([]);
  });

  it('stops every app it started when the edge proxy cannot listen, then fails', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    // command-api takes the edge's port after the check: the edge fails once the apps run.
    const root = standInRoot(edgePort);
    const out: string[] = [];
    const err: string[] = [];
    const run = runLauncher({
      args: [],
      env: environment(portBase(), edgePort),
      root,
      stop: new AbortController().signal,
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      readyTimeoutMs: 10_000,
    });
    await expect(run).rejects.toThrow(
      `the edge proxy cannot listen on 127.0.0.1:${edgePort}: listen EADDRINUSE`,
    );
    const pids = pidsOf(root);
    leftovers.push(...pids);
    expect(pids).toHaveLength(5);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('starts an app that died while the system runs again, and stops the new process too', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    const root = standInRoot();
    const trigger = path.join(root, 'crash-now');
    // trainer-service's stand-in exits with 1 when the trigger file appears (once: it takes it).
    writeFileSync(
      path.join(root, 'apps', 'trainer-service', 'dist', 'main.js'),
      readFileSync(path.join(root, 'apps', 'command-api', 'dist', 'main.js'), 'utf8') +
        `
        setInterval(() => {
          try { require('node:fs').unlinkSync(${JSON.stringify(trigger)}); } catch { return; }
          console.error(JSON.stringify({ level: 60, msg: 'lost its partitions: Redis went away' }));
          process.exit(1);
        }, 20);`,
    );
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    let firstPid = 0;
    let restartedPid = 0;
    const run = runLauncher({
      args: [],
      env: environment(portBase(), edgePort),
      root,
      stop: stop.signal,
      out: (text) => {
        out.push(text);
        if (text.includes('Causeway is up')) {
          firstPid = Number(readFileSync(path.join(root, 'pids', 'trainer-service-1'), 'utf8'));
          writeFileSync(trigger, '');
        }
        const restarted = /^trainer-service-1 restarted \(pid (\d+)\)/.exec(text);
        if (restarted) restartedPid = Number(restarted[1]);
      },
      err: (text) => err.push(text),
      readyTimeoutMs: 10_000,
    });
    // Stop once the new process runs (it has written its pid).
    const pidFile = path.join(root, 'pids', 'trainer-service-1');
    for (const deadline = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 20))) {
      if (restartedPid > 0 && Number(readFileSync(pidFile, 'utf8')) === restartedPid) break;
      if (Date.now() > deadline) {
        stop.abort('test timed out');
        throw new Error(`no restarted trainer-service-1 within 15 s: ${err.join('')}`);
      }
    }
    stop.abort('test');
    await run;
    const pids = pidsOf(root);
    leftovers.push(...pids);
    // Why it died, from its fatal line, not only its exit code.
    expect(err.join('')).toMatch(
      /^trainer-service-1 exited \(1\); last error: lost its partitions: Redis went away; see .*; restarting in 1 s\n$/,
    );
    expect(out.join('')).toMatch(/trainer-service-1 restarted \(pid \d+\)\n/);
    // The restarted process wrote its own pid, and the stop reached it like every other.
    expect(pids).not.toContain(firstPid);
    expect(pids).toContain(restartedPid);
    expect(pids).toHaveLength(5);
    expect(pids.filter(alive)).toEqual([]);
    expect(out.filter((line) => line.endsWith(' stopped\n'))).toHaveLength(5);
    // Its own waits: 10 s for readiness, 15 s for the restart.
  }, 30_000);

  it('starts again an app that died after it was ready while others were still starting', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    const root = standInRoot();
    const crashed = path.join(root, 'crashed-once');
    const die = path.join(root, 'die');
    const dist = (app: string) => path.join(root, 'apps', app, 'dist', 'main.js');
    // trainer-service is ready at once and dies once the launcher has seen it ready (its first
    // run only; not a fixed 300 ms later, which a loaded machine's launcher may take to probe)…
    writeFileSync(
      dist('trainer-service'),
      readFileSync(dist('trainer-service'), 'utf8') +
        `
        if (!require('node:fs').existsSync(${JSON.stringify(crashed)}))
          setInterval(() => {
            if (!require('node:fs').existsSync(${JSON.stringify(die)})) return;
            require('node:fs').writeFileSync(${JSON.stringify(crashed)}, '');
            process.exit(1);
          }, 20);`,
    );
    // …while projection-worker takes 2 s to be ready.
    writeFileSync(
      dist('projection-worker'),
      readFileSync(dist('projection-worker'), 'utf8').replace(
        "http.createServer(answer).listen(Number(process.env.PORT), '127.0.0.1');",
        "setTimeout(() => http.createServer(answer).listen(Number(process.env.PORT), '127.0.0.1'), 2_000);",
      ),
    );
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    let restarted = false;
    const run = runLauncher({
      args: [],
      env: environment(portBase(), edgePort),
      root,
      stop: stop.signal,
      out: (text) => {
        out.push(text);
        if (text.startsWith('ready  trainer-service-1 ')) writeFileSync(die, '');
        if (text.startsWith('trainer-service-1 restarted')) {
          restarted = true;
          stop.abort('test');
        }
      },
      err: (text) => err.push(text),
      readyTimeoutMs: 10_000,
    });
    const deadline = setTimeout(() => stop.abort('no restart within 10 s'), 10_000);
    await run;
    clearTimeout(deadline);
    leftovers.push(...pidsOf(root));
    expect(existsSync(crashed)).toBe(true);
    expect(err.join('')).toMatch(/^trainer-service-1 exited \(1\); see .*; restarting in 1 s\n/);
    expect(restarted).toBe(true);
    // The "up" line came while it was down: it is not counted as ready.
    expect(out.find((line) => line.includes('Causeway is up'))).toContain(
      'Causeway is up: 4 of 5 instances ready (trainer-service-1 exited, restarting). Demo page:',
    );
  }, 30_000);

  it('gives an app the SHUTDOWN_TIMEOUT_MS it was given to stop before killing it', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    const root = standInRoot();
    // trainer-service's stand-in takes 16 s to stop gracefully: within its SHUTDOWN_TIMEOUT_MS
    // of 20 s, beyond the launcher's default grace of 15 s.
    const main = path.join(root, 'apps', 'trainer-service', 'dist', 'main.js');
    writeFileSync(
      main,
      readFileSync(main, 'utf8').replace(
        "process.on('SIGTERM', () => process.exit(0));",
        "process.on('SIGTERM', () => setTimeout(() => process.exit(0), 16_000));",
      ),
    );
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    const run = runLauncher({
      args: [],
      env: { ...environment(portBase(), edgePort), SHUTDOWN_TIMEOUT_MS: '20000' },
      root,
      stop: stop.signal,
      out: (text) => {
        out.push(text);
        if (text.includes('Causeway is up')) stop.abort('test');
      },
      err: (text) => err.push(text),
      readyTimeoutMs: 10_000,
    });
    await run;
    leftovers.push(...pidsOf(root));
    expect(err).toEqual([]);
    expect(out.join('')).toContain('trainer-service-1 stopped\n');
    // 16 s for the slow stop, 10 s for readiness.
  }, 40_000);

  it('prints the demo page at the address the edge listens on', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    const root = standInRoot();
    const stop = new AbortController();
    const out: string[] = [];
    const page = (text: string) => /Demo page: (\S+) /.exec(text)?.[1];
    const run = runLauncher({
      args: [],
      // Loopback, but not 127.0.0.1: http://127.0.0.1:<port>/ would reach nothing.
      env: { ...environment(portBase(), edgePort), EDGE_HOST: '127.0.0.2' },
      root,
      stop: stop.signal,
      out: (text) => {
        out.push(text);
        if (page(text)) stop.abort('test');
      },
      err: () => undefined,
      readyTimeoutMs: 10_000,
    });
    await run;
    leftovers.push(...pidsOf(root));
    expect(out.map(page).find(Boolean)).toBe(`http://127.0.0.2:${edgePort}/`);
  });

  it('gives the apps their SHUTDOWN_TIMEOUT_MS to stop when the start fails too', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    const root = standInRoot();
    const dist = (app: string) => path.join(root, 'apps', app, 'dist', 'main.js');
    const graceful = path.join(root, 'trainer-service-stopped');
    // trainer-service takes 16 s to stop (within its 20 s); projection-worker is never ready.
    writeFileSync(
      dist('trainer-service'),
      readFileSync(dist('trainer-service'), 'utf8').replace(
        "process.on('SIGTERM', () => process.exit(0));",
        `process.on('SIGTERM', () => setTimeout(() => {
          require('node:fs').writeFileSync(${JSON.stringify(graceful)}, '');
          process.exit(0);
        }, 16_000));`,
      ),
    );
    writeFileSync(
      dist('projection-worker'),
      "setInterval(() => undefined, 1_000); process.on('SIGTERM', () => process.exit(0));",
    );
    const run = runLauncher({
      args: [],
      env: { ...environment(portBase(), edgePort), SHUTDOWN_TIMEOUT_MS: '20000' },
      root,
      stop: new AbortController().signal,
      out: () => undefined,
      err: () => undefined,
      readyTimeoutMs: 2_000,
    });
    await expect(run).rejects.toThrow('projection-worker-1 not ready within 2000 ms');
    leftovers.push(...pidsOf(root));
    // It finished its graceful stop: not killed at the default 15 s.
    expect(existsSync(graceful)).toBe(true);
  }, 40_000);

  it('stops everything when asked, saying each app stopped', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    const root = standInRoot();
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    const run = runLauncher({
      args: [],
      env: environment(portBase(), edgePort),
      root,
      stop: stop.signal,
      out: (text) => {
        out.push(text);
        if (text.includes('Causeway is up')) stop.abort('test');
      },
      err: (text) => err.push(text),
      readyTimeoutMs: 10_000,
    });
    await run;
    const pids = pidsOf(root);
    leftovers.push(...pids);
    expect(pids.filter(alive)).toEqual([]);
    expect(out.join('')).toContain('command-api-1 stopped\n');
    expect(out.filter((line) => line.endsWith(' stopped\n'))).toHaveLength(5);
    expect(err).toEqual([]);
  });

  it('sees an app ready on a port fetch refuses (10080, "bad port" in the Fetch standard)', async () => {
    const edgePort = 15_000 + Math.floor(Math.random() * 900);
    const root = standInRoot();
    const out: string[] = [];
    const stop = new AbortController();
    const run = runLauncher({
      args: [],
      // command-api-1 listens on APP_PORT_BASE itself.
      env: environment(10_080, edgePort),
      root,
      stop: stop.signal,
      out: (text) => {
        out.push(text);
        if (text.includes('Causeway is up')) stop.abort('test');
      },
      err: () => undefined,
      readyTimeoutMs: 8_000,
    });
    await run;
    leftovers.push(...pidsOf(root));
    expect(out.join('')).toMatch(/ready {2}command-api-1 +http:\/\/127\.0\.0\.1:10080\n/);
  }, 15_000);
});
