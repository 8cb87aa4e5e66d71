import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './free-port';

export interface ServiceProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout, split in lines. */
  stdoutLines(): string[];
  stderr(): string;
  /** Sends SIGTERM (or the given signal) and resolves with the exit code once the process ended. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>;
}

export interface StartServiceOptions {
  /** The app directory; runs `node dist/main.js` there (the app must be built). */
  appDir: string;
  env: Record<string, string | undefined>;
  /**
   * Resolve once GET /health/live answers (default); once GET /health/ready answers 200 too
   * (every server the app uses answered: a test's first request then meets no 503 `not-ready`
   * on a loaded machine); or as soon as the process is spawned.
   */
  waitFor?: 'live' | 'ready' | 'spawn';
  /** How long to wait for live (and ready): 30 s unless given; then the process is killed. */
  timeoutMs?: number;
}

/** Starts a built Causeway app as a real process on a free port. */
export async function startServiceProcess(options: StartServiceOptions): Promise<ServiceProcess> {
  const portSetting = options.env.PORT ?? String(await freePort());
  const port = Number(portSetting);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
  };
  for (const [key, value] of Object.entries({
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...options.env,
    PORT: portSetting,
  })) {
    if (value !== undefined) env[key] = value;
  }
  const child = spawn(process.execPath, [path.join(options.appDir, 'dist', 'main.js')], {
    cwd: options.appDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    url,
    port,
    child,
    exited,
    stdoutLines: () => stdout.split('\n').filter((line) => line.length > 0),
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
  if (options.waitFor === 'spawn') return service;

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let ended = false;
  void exited.then(() => (ended = true));
  let live = false;
  while (Date.now() < deadline && !ended) {
    try {
      const response = await fetchBefore(`${url}/health/live`, deadline);
      if (response.ok) {
        live = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let notReady = 'no answer';
  while (live && options.waitFor === 'ready' && Date.now() < deadline && !ended) {
    try {
      const response = await fetchBefore(`${url}/health/ready`, deadline);
      if (response.ok) return service;
      notReady = notReadyChecks(response.status, await response.text());
    } catch (error) {
      notReady = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (live && options.waitFor !== 'ready') return service;
  const timeoutMs = options.timeoutMs ?? 30_000;
  // Told before the kill below ends it.
  const what = !live
    ? ended
      ? 'ended before it became live'
      : `did not become live within ${timeoutMs} ms`
    : ended
      ? `ended before it became ready (last /health/ready: ${notReady})`
      : `was not ready within ${timeoutMs} ms (last /health/ready: ${notReady})`;
  await service.stop('SIGKILL');
  throw new Error(`service in ${options.appDir} ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
}

/**
 * The longest one request of a wait may take before it is tried again (a stalled answer): above
 * what a /health/ready of a loaded machine takes, its checks' own timeouts included.
 */
const REQUEST_BOUND_MS = 10_000;

/**
 * GET `url`, given up (an AbortError, as a refused connection is an error) after
 * REQUEST_BOUND_MS or at `deadline`, whichever is first, its body included (read it at once): a
 * server that takes the request and never answers held a wait far past its deadline (fetch's
 * own limits are minutes).
 */
function fetchBefore(url: string, deadline: number): Promise<Response> {
  const bound = Math.max(1, Math.min(REQUEST_BOUND_MS, deadline - Date.now()));
  return fetch(url, { signal: AbortSignal.timeout(bound) });
}

/** What a /health/ready answer says is not up: the names of its failed checks, or the answer. */
function notReadyChecks(status: number, body: string): string {
  try {
    const { error } = JSON.parse(body) as { error?: Record<string, unknown> };
    const names = Object.keys(error ?? {});
    if (names.length > 0) return `${status}, not ready: ${names.join(', ')}; ${body}`;
  } catch {
    // not JSON: shown as it came
  }
  return `${status} ${body}`;
}

/** Polls GET <url><path> until it answers `status`, or throws with the last answer. */
export async function waitForStatus(
  url: string,
  status: number,
  timeoutMs = 20_000,
): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetchBefore(url, deadline);
      if (response.status === status) return response;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms; last: ${last}`);
}
