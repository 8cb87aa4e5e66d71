import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { appSettingsOf } from './app.settings';
import { type Instance } from './system.topology';

export interface RunningInstance extends Instance {
  url: string;
  child: ChildProcess;
  logFile: string;
}

export interface LaunchOptions {
  /** Repository root (apps/<app>/dist/main.js must be built). */
  root: string;
  /** Each instance's stdout/stderr go to <logDir>/<instanceId>.log. */
  logDir: string;
  readyTimeoutMs?: number;
  /**
   * The launcher's environment (the CLI passes process.env): the app settings in it
   * (APP_SETTINGS, e.g. TOPIC_PREFIX) reach every instance, except where the instance's planned
   * env sets the same name. Nothing else of it does, apart from PATH and HOME. Unset: only
   * PATH, HOME and the planned env.
   */
  environment?: NodeJS.ProcessEnv;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Starts every instance as a real process and resolves once each answers GET /health/ready
 * with 200. If one exits or is not ready in time, all are stopped and the promise rejects
 * naming it and pointing at its log.
 */
export async function launchSystem(
  instances: readonly Instance[],
  options: LaunchOptions,
): Promise<RunningInstance[]> {
  const log = options.log ?? (() => undefined);
  mkdirSync(options.logDir, { recursive: true });
  const running = instances.map((instance) => start(instance, options));
  try {
    await Promise.all(
      running.map((instance) => waitUntilReady(instance, options.readyTimeoutMs ?? 60_000, log)),
    );
    return running;
  } catch (error) {
    await stopSystem(running);
    throw error;
  }
}

function start(instance: Instance, options: LaunchOptions): RunningInstance {
  const logFile = path.join(options.logDir, `${instance.instanceId}.log`);
  const out = createWriteStream(logFile, { flags: 'w' });
  const child = spawn(
    process.execPath,
    [path.join(options.root, 'apps', instance.app, 'dist', 'main.js')],
    {
      cwd: path.join(options.root, 'apps', instance.app),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...appSettingsOf(options.environment ?? {}),
        ...instance.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return { ...instance, url: `http://127.0.0.1:${instance.port}`, child, logFile };
}

async function waitUntilReady(
  instance: RunningInstance,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (instance.child.exitCode !== null) {
      throw new Error(
        `${instance.instanceId} exited with code ${instance.child.exitCode}; see ${instance.logFile}`,
      );
    }
    try {
      const response = await fetch(`${instance.url}/health/ready`);
      if (response.status === 200) {
        log(`ready  ${instance.instanceId.padEnd(22)} ${instance.url}`);
        return;
      }
      last = `${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `${instance.instanceId} not ready within ${timeoutMs} ms (last: ${last}); see ${instance.logFile}`,
  );
}

/** SIGTERM to every instance, SIGKILL to those still running after the grace period. */
export async function stopSystem(
  instances: readonly RunningInstance[],
  graceMs = 15_000,
): Promise<void> {
  await Promise.all(
    instances.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}
