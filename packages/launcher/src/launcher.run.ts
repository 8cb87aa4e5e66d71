import type http from 'node:http';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { setting } from '@causeway/cqrs-core';
import { parseCliOptions, USAGE } from './cli.options';
import { DEFAULT_UPSTREAM_TIMEOUT_MS, startEdgeProxy } from './edge.proxy';
import { restartBackoff } from './restart.backoff';
import {
  DEFAULT_READY_TIMEOUT_MS,
  launchSystem,
  restartInstance,
  stopSystem,
  type RunningInstance,
} from './system.launcher';
import { DEFAULT_PORT_BASE, planInstances } from './system.topology';

export interface RunOptions {
  /** The command-line arguments (--scale app=N, --port-base N). */
  args: readonly string[];
  /** Server URLs, tokens, EDGE_*, APP_PORT_BASE and the app settings. */
  env: NodeJS.ProcessEnv;
  /** Repository root: apps/<app>/dist/main.js and apps/embedded/public. */
  root: string;
  /** Where the instances' logs go; default <root>/.infra/apps. */
  logDir?: string;
  /** Aborting it (Ctrl-C, SIGTERM, …; its reason is printed) stops everything. */
  stop: AbortSignal;
  out: (text: string) => void;
  err: (text: string) => void;
  readyTimeoutMs?: number;
}

/**
 * Runs the reference system until `stop` aborts: plans the instances, checks every port it
 * needs is free, starts the apps, waits until each is ready, starts the edge proxy. Whatever
 * fails after the first app started — an app not ready, the edge proxy not listening — stops
 * every app started so far before the promise rejects; so does a stop requested meanwhile
 * (the promise then resolves). Resolves once everything has stopped.
 */
export async function runLauncher(options: RunOptions): Promise<void> {
  const { env, out, err, stop } = options;
  const cli = parseCliOptions(options.args, env);
  if (cli.help) {
    out(USAGE);
    return;
  }
  const readModelStore = env.READ_MODEL_STORE || undefined;
  if (readModelStore !== undefined && readModelStore !== 'redis' && readModelStore !== 'mongodb')
    throw new Error(`READ_MODEL_STORE must be redis or mongodb, got "${readModelStore}"`);
  // As the apps read it (true/false/1/0); on unless set otherwise (a local demo).
  const devTokens = setting.boolean(true).safeParse(env.DEV_TOKENS || undefined);
  if (!devTokens.success)
    throw new Error(`DEV_TOKENS must be true or false (or 1 or 0), got "${env.DEV_TOKENS}"`);
  // As the apps read their durations: whole milliseconds, 1 up to the longest timer (Node fires
  // a longer one after 1 ms: every request through the edge would be answered 504 at once).
  const upstreamTimeout = setting
    .milliseconds(DEFAULT_UPSTREAM_TIMEOUT_MS)
    .safeParse(env.EDGE_UPSTREAM_TIMEOUT_MS || undefined);
  if (!upstreamTimeout.success)
    throw new Error(
      `EDGE_UPSTREAM_TIMEOUT_MS: ${upstreamTimeout.error.issues[0]?.message}, got "${env.EDGE_UPSTREAM_TIMEOUT_MS}"`,
    );
  // A projection-worker rebuilding lost read models from a large event store is not ready for
  // minutes (ADR 009): the wait is a setting, and progress lines show what it waits for.
  const readyTimeout = setting
    .milliseconds(DEFAULT_READY_TIMEOUT_MS)
    .safeParse(env.READY_TIMEOUT_MS || undefined);
  if (!readyTimeout.success)
    throw new Error(
      `READY_TIMEOUT_MS: ${readyTimeout.error.issues[0]?.message}, got "${env.READY_TIMEOUT_MS}"`,
    );
  const instances = planInstances(serversOf(env), {
    scale: cli.scale,
    portOffset: cli.portBase - DEFAULT_PORT_BASE,
    logLevel: env.LOG_LEVEL,
    adminToken: env.ADMIN_TOKEN,
    jwtSecret: env.JWT_SECRET,
    jwtPreviousSecrets: env.JWT_PREVIOUS_SECRETS,
    devTokens: devTokens.data,
    readModelStore,
  });
  const edgeHost = env.EDGE_HOST ?? '127.0.0.1';
  const logDir = options.logDir ?? path.join(options.root, '.infra', 'apps');

  let running: RunningInstance[] = [];
  const launch = {
    root: options.root,
    logDir,
    environment: env,
    readyTimeoutMs: options.readyTimeoutMs ?? readyTimeout.data,
    alsoNeeds: [
      { port: cli.edgePort, host: edgeHost, owner: 'edge proxy', hostSetting: 'EDGE_HOST' },
    ],
    signal: stop,
    stopGraceMs: stopGraceMs(env),
    log: (line: string) => out(`${line}\n`),
  };
  try {
    running = await launchSystem(instances, launch);
  } catch (error) {
    if (stop.aborted) return; // launchSystem has stopped what it started
    throw error;
  }

  let edge: http.Server | undefined;
  let stopping = false;
  const restarts = new Set<NodeJS.Timeout>();
  /** Instances that exited since they were ready: being restarted, not ready (yet). */
  const exited = new Set<RunningInstance>();
  /**
   * Reports each exit; an app that dies while the system runs is started again after a backoff
   * (1 s, doubling up to 30 s; back to 1 s once it has run for a minute), as a supervisor would,
   * so one crash does not leave the system degraded until someone notices. An app may have
   * died already, after it was ready, while others were still starting: that counts too.
   */
  const watch = (instance: RunningInstance, failures: number) => {
    const startedAt = Date.now();
    const { child, closed } = instance;
    const onExit = async (code: number | null, signal: NodeJS.Signals | null) => {
      if (!stopping && !stop.aborted) {
        exited.add(instance);
        const { streak, delayMs } = restartBackoff(failures, Date.now() - startedAt);
        // Why it died, likely: its last error or fatal line. The last output may still
        // be in the pipes at 'exit' (bounded, as a grandchild might hold one open).
        await settled(closed, 5_000);
        if (stopping || stop.aborted) return;
        const why = instance.lastError ? `; last error: ${instance.lastError}` : '';
        err(
          `${instance.instanceId} exited (${code ?? signal})${why}; see ${instance.logFile}; ` +
            `restarting in ${delayMs / 1000} s\n`,
        );
        const timer = setTimeout(() => {
          restarts.delete(timer);
          if (stopping || stop.aborted) return;
          restartInstance(instance, launch);
          out(`${instance.instanceId} restarted (pid ${instance.child.pid})\n`);
          watch(instance, streak);
        }, delayMs);
        restarts.add(timer);
      } else if (code === 0 || signal === 'SIGTERM' || signal === 'SIGINT')
        out(`${instance.instanceId} stopped\n`);
      else
        err(
          `${instance.instanceId} exited (${code ?? signal}) while stopping; see ${instance.logFile}\n`,
        );
    };
    if (child.exitCode !== null || child.signalCode !== null)
      void onExit(child.exitCode, child.signalCode);
    else child.once('exit', (code, signal) => void onExit(code, signal));
  };
  try {
    for (const instance of running) watch(instance, 0);
    const urlsOf = (app: string) => running.filter((i) => i.app === app).map((i) => i.url);
    try {
      edge = await startEdgeProxy(
        {
          commandApi: urlsOf('command-api'),
          gateways: urlsOf('sse-gateway'),
          orderProcessor: urlsOf('order-processor'),
          demoDirectory: path.join(options.root, 'apps', 'embedded', 'public'),
        },
        {
          port: cli.edgePort,
          host: edgeHost,
          upstreamTimeoutMs: upstreamTimeout.data,
        },
      );
    } catch (error) {
      throw new Error(
        `the edge proxy cannot listen on ${edgeHost}:${cli.edgePort}: ${(error as Error).message}`,
      );
    }
    if (!stop.aborted) {
      // An instance that died after it was ready, while others were still starting, is being
      // restarted: not counted as ready, but named.
      const down = running.filter((instance) => exited.has(instance));
      const ready =
        down.length === 0
          ? `${running.length} instances ready`
          : `${running.length - down.length} of ${running.length} instances ready ` +
            `(${down.map((instance) => instance.instanceId).join(', ')} exited, restarting)`;
      out(
        `\nCauseway is up: ${ready}. Demo page: ` +
          `http://${browsable(edgeHost)}:${cli.edgePort}/ — Ctrl-C stops them.\n`,
      );
    }
    await new Promise<void>((resolve) => {
      if (stop.aborted) resolve();
      else stop.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    edge?.close();
    edge?.closeAllConnections();
    await stopSystem(running, launch.stopGraceMs);
  }
}

/**
 * The host of a URL that reaches a server listening on `host`: loopback for every interface
 * (`0.0.0.0`, `::`), an IPv6 address in brackets, else the host itself (an EDGE_HOST of
 * 192.168.1.5 or 127.0.0.2 is not reached at 127.0.0.1).
 */
function browsable(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return isIPv6(host) ? `[${host}]` : host;
}

/** The apps' SHUTDOWN_TIMEOUT_MS default (cqrs-core's serviceSettings). */
const APP_SHUTDOWN_TIMEOUT_MS = 10_000;
/** What the launcher allows beyond it: a process's exit after its graceful stop gave up. */
const STOP_MARGIN_MS = 5_000;

/**
 * How long the apps get to stop after SIGTERM before SIGKILL: the SHUTDOWN_TIMEOUT_MS they were
 * given (it passes through to them), plus a margin — never less than what the default allows.
 * A shorter grace would kill an app mid-way through the graceful stop it was told it may take.
 */
function stopGraceMs(env: NodeJS.ProcessEnv): number {
  const given = env.SHUTDOWN_TIMEOUT_MS?.trim();
  const shutdownMs = given && /^\d+$/.test(given) ? Number(given) : APP_SHUTDOWN_TIMEOUT_MS;
  return Math.max(APP_SHUTDOWN_TIMEOUT_MS, shutdownMs) + STOP_MARGIN_MS;
}

/** Resolves once `promise` has settled, or after `ms` at most. */
async function settled(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise?.catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

function serversOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['REDIS_URL', 'KAFKA_BROKERS', 'MONGODB_URI'])
    if (env[key]) out[key] = env[key]!;
  return out;
}
