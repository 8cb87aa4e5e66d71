import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync } from 'node:fs';
import { get } from 'node:http';
import path from 'node:path';
import { appSettingsOf } from './app.settings';
import { assertPortsFree, listenerOwnedBy, type PortClaim } from './port.check';
import { type Instance } from './system.topology';

export interface RunningInstance extends Instance {
  url: string;
  child: ChildProcess;
  logFile: string;
  /** The `msg` of the last error or fatal JSON log line the app wrote (why it stopped). */
  lastError?: string;
  /**
   * The last warn line of the app's `Connections` context for each server it has not reached
   * since (`<name> to <server> unreachable (… (<SETTING>): …)`, no credentials), joined by
   * "; ": why it is not ready. A server's "<name> connected" line takes its warning out.
   */
  lastUnreachable?: string;
  /** Settles once the process is gone and its stdout and stderr have been read to the end. */
  closed?: Promise<void>;
}

/** LaunchOptions.readyTimeoutMs when not given (READY_TIMEOUT_MS of causeway-launch). */
export const DEFAULT_READY_TIMEOUT_MS = 180_000;

export interface LaunchOptions {
  /** Repository root (apps/<app>/dist/main.js must be built). */
  root: string;
  /**
   * Each instance's stdout/stderr are appended to <logDir>/<instanceId>.log, after a line that
   * marks the start of this run.
   */
  logDir: string;
  /** How long each instance may take to answer /health/ready with 200. Default 180 s. */
  readyTimeoutMs?: number;
  /**
   * While an instance is not ready, a progress line every this many ms naming its last answer
   * (which checks are down): a projection-worker catching up from a large event store is not
   * ready for minutes, and a silent wait looks like a hang. Default 15 s.
   */
  progressEveryMs?: number;
  /**
   * Ports the caller will listen on once the apps are ready (the edge proxy's): checked along
   * with the instances' ports before anything starts, so that one message names them all.
   */
  alsoNeeds?: readonly PortClaim[];
  /** Aborting it stops the instances started so far; the promise then rejects. */
  signal?: AbortSignal;
  /**
   * How long the instances get to stop after SIGTERM when the start fails, before SIGKILL (the
   * SHUTDOWN_TIMEOUT_MS they were given and a margin). Default stopSystem's.
   */
  stopGraceMs?: number;
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
 * Checks that every instance's port (and `alsoNeeds`) is free — failing at once, naming the
 * ports taken, before anything starts — then starts every instance as a real process and
 * resolves once each answers GET /health/ready with 200 from the process started for it (an
 * answer from whatever else may hold the port does not count). If one cannot be started (its
 * log file cannot be written), exits or is not ready in time, or `signal` aborts, all started
 * are stopped and the promise rejects naming it and pointing at its log.
 */
export async function launchSystem(
  instances: readonly Instance[],
  options: LaunchOptions,
): Promise<RunningInstance[]> {
  const log = options.log ?? (() => undefined);
  options.signal?.throwIfAborted();
  await assertPortsFree([
    ...instances.map(({ port, instanceId }) => ({ port, host: '127.0.0.1', owner: instanceId })),
    ...(options.alsoNeeds ?? []),
  ]);
  options.signal?.throwIfAborted();
  log(`starting ${instances.length} instances (logs in ${options.logDir})`);
  mkdirSync(options.logDir, { recursive: true });
  const running: RunningInstance[] = [];
  let onAbort: (() => void) | undefined;
  try {
    // Inside the try: should one fail to start (its log file cannot be written), the ones
    // started before it are stopped, not left running unseen.
    for (const instance of instances) running.push(start(instance, options));
    await Promise.race([
      Promise.all(
        running.map((instance) =>
          waitUntilReady(
            instance,
            options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
            options.progressEveryMs ?? 15_000,
            log,
          ),
        ),
      ),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(new Error('stopped before every instance was ready'));
        options.signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    return running;
  } catch (error) {
    await stopSystem(running, options.stopGraceMs);
    throw error;
  } finally {
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Spawns the instance's app; `into`: the running instance to give the new process (a restart). */
function start(
  instance: Instance,
  options: LaunchOptions,
  into?: RunningInstance,
): RunningInstance {
  const logFile = path.join(options.logDir, `${instance.instanceId}.log`);
  // Appended to, never truncated: an earlier run's processes may still be writing to this file
  // and pointing people at it ("see …log"), so each run adds its output after a marker line
  // instead of replacing what is there.
  appendFileSync(
    logFile,
    `\n===== ${new Date().toISOString()} causeway-launch (pid ${process.pid}) starts ` +
      `${instance.instanceId} on port ${instance.port} =====\n`,
  );
  const out = createWriteStream(logFile, { flags: 'a' });
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
        // The app stops by itself if this process dies without stopping it (SIGKILL, a crash).
        SUPERVISOR_PID: String(process.pid),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own: a terminal's SIGHUP (closed) or SIGINT (Ctrl-C) goes to the
      // foreground group, the launcher's; in it, a SIGHUP killed every app on the spot (they
      // stop gracefully on SIGTERM and SIGINT only). The launcher stops them itself, with
      // SIGTERM; killed outright, it leaves them SUPERVISOR_PID.
      detached: true,
    },
  );
  // Both pipes feed one file: neither may end it when it ends (stdout often ends first, and the
  // fatal line still to come on stderr would then be a 'write after end' error that crashes
  // the launcher). The file is closed once the child and both pipes are done.
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  child.once('close', () => out.end());
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const running: RunningInstance = into
    ? Object.assign(into, { child, closed, lastError: undefined, lastUnreachable: undefined })
    : { ...instance, url: `http://127.0.0.1:${instance.port}`, child, logFile, closed };
  // An app that cannot start writes why as a fatal JSON line (a bad setting, a port in use):
  // kept so that the launcher's own error says it, not only the log file.
  // The last of the most severe: a fatal line is not replaced by an error line after it (Nest
  // logs its own "listen EADDRINUSE" error next to the app's fatal one naming PORT).
  let severity = 0;
  const unreachable = new Map<string, string>();
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = (lines.pop() ?? '').slice(-65_536);
      for (const line of lines) {
        const connection = connectionLineOf(line);
        if (connection) {
          if (connection.reached) unreachable.delete(connection.name);
          else unreachable.set(connection.name, connection.msg);
          running.lastUnreachable =
            unreachable.size > 0 ? [...unreachable.values()].join('; ') : undefined;
          continue;
        }
        const error = errorOf(line);
        if (!error || error.level < severity) continue;
        severity = error.level;
        running.lastError = error.msg;
      }
    });
  }
  return running;
}

/**
 * The status of GET <url>/health/ready, and the names of the checks a 503 says are down. With
 * node:http, not fetch: fetch refuses the ports the Fetch standard blocks (10080 among those
 * APP_PORT_BASE may give) with "bad port".
 */
function readyStatus(url: string): Promise<{ status: number; down: string[] }> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}/health/ready`, (response) => {
      const status = response.statusCode ?? 0;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 65_536) body += chunk;
      });
      response.on('end', () => resolve({ status, down: downChecksOf(body) }));
      response.on('error', () => resolve({ status, down: [] }));
    });
    request.on('error', reject);
    request.setTimeout(5_000, () => request.destroy(new Error('no answer within 5 s')));
  });
}

/** The names of the checks a Terminus readiness document (`error: {<name>: …}`) says are down. */
function downChecksOf(body: string): string[] {
  try {
    const { error } = JSON.parse(body) as { error?: unknown };
    return error && typeof error === 'object' ? Object.keys(error) : [];
  } catch {
    return [];
  }
}

async function waitUntilReady(
  instance: RunningInstance,
  timeoutMs: number,
  progressEveryMs: number,
  log: (line: string) => void,
): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let nextProgress = started + progressEveryMs;
  let last = 'no answer';
  const { child } = instance;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  while (Date.now() < deadline) {
    if (exited()) throw await exitError(instance);
    try {
      const response = await readyStatus(instance.url);
      // A 200 counts only from the process started for this instance: while it is still
      // starting (or after it failed to listen), another process on the port may answer.
      if (exited()) throw await exitError(instance);
      const ours = listenerOwnedBy(child.pid!, instance.port) ?? true;
      if (response.status === 200 && ours) {
        log(`ready  ${instance.instanceId.padEnd(22)} ${instance.url}`);
        return;
      }
      const down = response.down.length > 0 ? ` (down: ${response.down.join(', ')})` : '';
      last = ours
        ? `${response.status}${down}`
        : `${response.status} from another process on port ${instance.port}`;
    } catch (error) {
      if (exited()) throw await exitError(instance);
      last = (error as Error).message;
    }
    if (Date.now() >= nextProgress) {
      nextProgress += progressEveryMs;
      const waited = Math.round((Date.now() - started) / 1000);
      log(
        `waiting ${instance.instanceId.padEnd(20)} ${waited} s of ${Math.round(timeoutMs / 1000)} s (last: ${last})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // Why, when the app said it: a server it cannot reach, naming the setting (REDIS_URL, …).
  const why = instance.lastUnreachable ? `; ${instance.lastUnreachable}` : '';
  throw new Error(
    `${instance.instanceId} not ready within ${timeoutMs} ms (last: ${last})${why}; see ${instance.logFile}`,
  );
}

async function exitError(instance: RunningInstance): Promise<Error> {
  const { instanceId, child, logFile } = instance;
  // 'exit' may come before the last output is read, on either pipe (the fatal line is usually on
  // stderr, after stdout ended): wait for both to close, which a dead process's pipes do soon
  // (bounded, in case a grandchild holds one open).
  if (instance.closed) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      instance.closed,
      new Promise((resolve) => (timer = setTimeout(resolve, 5_000))),
    ]);
    clearTimeout(timer);
  }
  const how = child.signalCode ? `on ${child.signalCode}` : `with code ${child.exitCode}`;
  const why = instance.lastError ? `: ${instance.lastError}` : '';
  return new Error(`${instanceId} exited ${how} before it was ready${why}; see ${logFile}`);
}

/** A pino JSON line's level, message and context; undefined for any other line. */
function entryOf(line: string): { level: number; msg: string; context?: unknown } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; context?: unknown };
    return typeof entry.level === 'number' && typeof entry.msg === 'string'
      ? { level: entry.level, msg: entry.msg, context: entry.context }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The `msg` of a pino JSON line at level error (50) or fatal (60); undefined for any other line. */
function errorOf(line: string): { level: number; msg: string } | undefined {
  const entry = entryOf(line);
  return entry && entry.level >= 50 ? entry : undefined;
}

/**
 * A line of cqrs-core's ConnectionsLifecycle (context `Connections`): a warn `<name> to <server>
 * unreachable (…)`, or an info `<name> connected…` (`reached`); undefined for any other line.
 */
function connectionLineOf(
  line: string,
): { name: string; msg: string; reached: boolean } | undefined {
  const entry = entryOf(line);
  if (entry?.context !== 'Connections') return undefined;
  const name = entry.msg.split(' ', 1)[0]!;
  if (entry.level === 40) return { name, msg: entry.msg, reached: false };
  if (entry.level === 30 && entry.msg.startsWith(`${name} connected`))
    return { name, msg: entry.msg, reached: true };
  return undefined;
}

/**
 * Starts `instance`'s app again, in place: the same port, settings and log file (a new marker
 * line), a new process in `instance.child`. For an instance whose process exited; the caller
 * watches the new process (its readiness included: nothing here waits for it).
 */
export function restartInstance(instance: RunningInstance, options: LaunchOptions): void {
  start(instance, options, instance);
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
