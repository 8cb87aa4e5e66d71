import 'reflect-metadata';
import { type Server, type ServerResponse } from 'node:http';
import { type INestApplication, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { type z } from 'zod';
import { ConfigurationError } from '../config/configuration.error';
import { loadConfiguration } from '../config/configuration.loader';
import { credentialsRemoved } from '../connections/connection-target';
import { parseBodies } from './body.parsers';
import { answerClientErrors } from './client-errors';
import { startFailureCauses, startFailureFields } from './start-failure.fields';

export interface ServiceBootstrap<S extends z.ZodType> {
  service: string;
  configuration: S;
  /** Builds the root module from the validated configuration. */
  module: (config: z.output<S>) => DynamicModule;
  /**
   * App-level setup that no module can do (middleware of its own, OpenAPI UI), run after the
   * app is created and before it listens. Its middleware runs ahead of the body parsers (JSON,
   * forms), which answer a body that is not JSON with a `malformed-json` problem (400).
   */
  setup?: (app: INestApplication, config: z.output<S>) => void | Promise<void>;
  /** Where to listen, from the configuration. */
  listen: (config: z.output<S>) => { port: number; host: string };
  /** How long graceful shutdown may take before the process exits anyway. Default 10 s. */
  shutdownTimeoutMs?: (config: z.output<S>) => number;
  /**
   * How long an idle keep-alive connection stays open (`HTTP_KEEP_ALIVE_TIMEOUT_MS`). Default
   * 65 s: past the idle timeout of common load balancers (60 s), never Node's 5 s.
   */
  keepAliveTimeoutMs?: (config: z.output<S>) => number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Idle keep-alive connections stay open `ms` (Node closes them after 5 s: a load balancer that
 * keeps its connections to the app for 60 s then sends requests on connections the app is just
 * closing, answered 502). The timeouts for a request's headers and whole request are raised to
 * stay above it, as Node requires. Graceful shutdown still ends idle connections at once
 * (`server.close()` closes them since Node 19).
 */
function keepConnectionsAlive(server: Server, ms: number): void {
  server.keepAliveTimeout = ms;
  if (server.headersTimeout <= ms) server.headersTimeout = ms + 1_000;
  if (server.requestTimeout > 0 && server.requestTimeout <= server.headersTimeout)
    server.requestTimeout = server.headersTimeout + 1_000;
}

/**
 * Returns what to call when the shutdown starts: from then on every answer ends its connection
 * (`Connection: close`), those in flight included, and a connection whose answer had gone out
 * already (a stream) is closed once it ends. Node's `server.close()` (Nest's, after the drain)
 * closes only the connections idle at that moment: a keep-alive connection busy then stayed open
 * `keepAliveTimeout` (65 s) after its answer, and the shutdown outlived its timeout — exit code
 * 1, the onApplicationShutdown hooks (publisher, stores, connections) never run. Clients are told
 * to reconnect, which a load balancer does to another instance.
 */
function closeConnectionsOnStop(server: Server): () => void {
  const open = new Set<ServerResponse>();
  let stopping = false;
  const end = (response: ServerResponse) => {
    // Not sent yet: the answer says `Connection: close`, and Node ends the connection after it.
    if (!response.headersSent) response.shouldKeepAlive = false;
  };
  server.on('request', (_request, response: ServerResponse) => {
    if (stopping) end(response);
    open.add(response);
    response.once('close', () => {
      open.delete(response);
      if (stopping) server.closeIdleConnections();
    });
  });
  return () => {
    stopping = true;
    for (const response of open) end(response);
  };
}

/**
 * The environment variable a supervisor (the launcher) sets to its own pid: the app then stops
 * as on SIGTERM once no process has that pid any more, so apps do not outlive a supervisor
 * that was killed without passing a signal on (SIGKILL, a crash).
 */
export const SUPERVISOR_PID = 'SUPERVISOR_PID';

/** How often the app looks for its supervisor. */
const SUPERVISOR_CHECK_MS = 1_000;

/**
 * Starts a Causeway service: validates the configuration first (a bad setting ends the process
 * with exit code 1 and a JSON log line naming it), then creates the Nest app with JSON logging
 * (process warnings included: see logProcessWarnings) and shutdown hooks, and listens. A
 * failure to start (a module's init, a port in use) is one fatal JSON line too, naming PORT or
 * HOST when the address is the problem, and exit code 1.
 */
export async function bootstrapService<S extends z.ZodType>(
  spec: ServiceBootstrap<S>,
): Promise<INestApplication> {
  let config: z.output<S>;
  try {
    config = loadConfiguration(spec.configuration, spec.env);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      fatal(spec.service, error.message, { issues: error.issues });
      process.exit(1);
    }
    throw error;
  }
  // From here on, a process warning (CausewayPoisonWarning, CausewayTrimWarning,
  // CAUSEWAY_SNAPSHOT_FAILED, a deprecation) is a JSON warn line, not Node's plain-text one.
  const warnings = logProcessWarnings(spec.service);
  const supervisor = supervisorPid(spec.env ?? process.env);
  if (supervisor instanceof ConfigurationError) {
    fatal(spec.service, supervisor.message, { issues: supervisor.issues });
    process.exit(1);
  }
  const { port, host } = spec.listen(config);
  let app: INestApplication | undefined;
  try {
    // abortOnError false: a failing module init rejects here (and is logged as JSON below)
    // instead of Nest aborting the process with a plain-text trace.
    // bodyParser false: parseBodies registers Nest's parsers, answering what they refuse.
    // autoFlushLogs false: what Nest logged while creating the app is printed only once the
    // app's JSON logger has it; a failure to create it (a provider refusing a setting) is the
    // fatal line below alone, not Nest's plain-text exception handler's lines first.
    app = await NestFactory.create(spec.module(config), {
      bufferLogs: true,
      autoFlushLogs: false,
      abortOnError: false,
      bodyParser: false,
    });
    const logger = app.get(Logger);
    app.useLogger(logger);
    app.flushLogs();
    warnings.to(logger);
    // No framework advertisement, and no MIME sniffing of what Express serves (pages, documents).
    (app.getHttpAdapter().getInstance() as { disable?: (setting: string) => void }).disable?.(
      'x-powered-by',
    );
    app.use(
      (
        _request: unknown,
        response: { setHeader(name: string, value: string): void },
        next: () => void,
      ) => {
        response.setHeader('X-Content-Type-Options', 'nosniff');
        next();
      },
    );
    await spec.setup?.(app, config);
    parseBodies(app);
    // A request node:http cannot parse (headers too large, malformed) is a problem document too.
    answerClientErrors(app.getHttpServer() as Server);
    keepConnectionsAlive(
      app.getHttpServer() as Server,
      spec.keepAliveTimeoutMs?.(config) ?? 65_000,
    );
    const closeConnections = closeConnectionsOnStop(app.getHttpServer() as Server);
    await app.listen(port, host);
    logger.log(`${spec.service} listening on http://${host}:${port}`);
    const stop = stopOnSignals(
      app,
      logger,
      spec.shutdownTimeoutMs?.(config) ?? 10_000,
      closeConnections,
    );
    if (supervisor !== undefined) watchSupervisor(supervisor, stop);
    return app;
  } catch (error) {
    app?.flushLogs();
    fatal(spec.service, startFailure(error, host, port), { err: startFailureFields(error) });
    // Connections opened during init would keep the process alive.
    const closing = app?.close().catch(() => undefined);
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    process.exit(1);
  }
}

/** One line of what went wrong at start, naming the settings when it is the address. */
function startFailure(error: unknown, host: string, port: number): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') return `cannot listen on ${host}:${port}: the port is in use (PORT)`;
  if (code === 'EACCES') return `cannot listen on ${host}:${port}: permission denied (PORT)`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `cannot listen on ${host}:${port}: no such local address (HOST)`;
  // A driver's error may quote its connection string, user and password included.
  const message = credentialsRemoved((error as Error)?.message ?? String(error));
  return `start-up failed: ${message}${startFailureCauses(error)}`;
}

/**
 * Replaces Node's printing of process warnings (`(node:N) [CODE] Name: message` on stderr) with
 * one JSON warn line each: `{"context":"ProcessWarning","msg":"<name> [<code>]: <message>",
 * "warning":{"name","code","message"}}` through the app's logger once it has one (`to`), in
 * pino's format on stdout before.
 */
function logProcessWarnings(service: string): { to(logger: Logger): void } {
  let log = (msg: string, warning: Record<string, unknown>): void =>
    void process.stdout.write(
      `${JSON.stringify({ level: 40, time: Date.now(), service, context: 'ProcessWarning', msg, warning })}\n`,
    );
  // Node's own listener is the one that prints: ours replaces it, not adds to it.
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    const code = typeof warning.code === 'string' ? warning.code : undefined;
    // A warning may quote a URL with its credentials (DEP0170 quotes a whole invalid URL).
    const message = credentialsRemoved(String(warning.message));
    log(`${warning.name}${code ? ` [${code}]` : ''}: ${message}`, {
      name: warning.name,
      ...(code && { code }),
      message,
    });
  });
  return {
    to(logger) {
      log = (msg, warning) => logger.warn({ msg, warning }, 'ProcessWarning');
    },
  };
}

/** A fatal line in pino's format (level 60), before or instead of the app's logger. */
function fatal(service: string, msg: string, extra: Record<string, unknown>): void {
  process.stderr.write(
    `${JSON.stringify({ level: 60, time: Date.now(), service, msg, ...extra })}\n`,
  );
}

/**
 * SIGTERM / SIGINT close the app (Nest shutdown hooks run: consumers stop, connections close)
 * and exit 0. If closing takes longer than the timeout the process exits 1 instead of hanging.
 * HTTP requests are still answered while the app drains, each on a connection that then closes
 * (`stopping`).
 */
function stopOnSignals(
  app: INestApplication,
  logger: Logger,
  timeoutMs: number,
  beforeClose: () => void,
): (why: string) => void {
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${why}; shutting down`);
    beforeClose();
    const timer = setTimeout(() => {
      logger.error(`shutdown did not finish within ${timeoutMs} ms; exiting`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM received'));
  process.once('SIGINT', () => stop('SIGINT received'));
  return stop;
}

/** SUPERVISOR_PID as a pid, undefined when unset, or the error naming it. */
function supervisorPid(env: NodeJS.ProcessEnv): number | undefined | ConfigurationError {
  const value = env[SUPERVISOR_PID];
  if (value === undefined || value === '') return undefined;
  const pid = Number(value);
  if (Number.isSafeInteger(pid) && pid > 1 && String(pid) === value.trim()) return pid;
  return new ConfigurationError([
    {
      setting: SUPERVISOR_PID,
      problem: `expected the pid of the supervising process (an integer above 1), got ${JSON.stringify(value)}`,
    },
  ]);
}

/** Stops the app once the supervisor's pid is gone (checked every second, not keeping the process alive). */
function watchSupervisor(pid: number, stop: (why: string) => void): void {
  const timer = setInterval(() => {
    if (alive(pid)) return;
    clearInterval(timer);
    // Its pipes may have gone with it: writing must not end the shutdown early.
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    stop(`supervisor (pid ${pid}) gone`);
  }, SUPERVISOR_CHECK_MS);
  timer.unref();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the pid exists but belongs to someone else, e.g. reused: treat as alive rather
    // than stop on a guess.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
