#!/usr/bin/env node
import path from 'node:path';
import { runLauncher } from './launcher.run';

/**
 * causeway-launch [--scale app=N ...] [--port-base N]
 * Starts the reference system on the servers named by REDIS_URL, KAFKA_BROKERS and MONGODB_URI
 * (scripts/start-distributed.sh exports them from .infra/env), waits until every instance is
 * ready, serves the demo page on the edge proxy (EDGE_PORT, default 8080), prints the URLs, and
 * stops everything on Ctrl-C / SIGTERM / SIGHUP, or when its parent process goes away (npm
 * killed outright). The apps listen on 3000–3014 by default; --port-base N (or APP_PORT_BASE)
 * moves them all so that command-api gets N. Every port is checked to be free before anything
 * starts. DEV_TOKENS (default true here) lets the demo page mint tokens from command-api.
 * READ_MODEL_STORE (redis or mongodb) goes to trainer-service, projection-worker and sse-gateway
 * alike; sse-gateway needs MONGODB_URI only with mongodb. The other app settings (APP_SETTINGS:
 * TOPIC_PREFIX, COMMAND_TIMEOUT_MS, …) pass through from this environment to every app.
 * EDGE_UPSTREAM_TIMEOUT_MS (default 30000) bounds the edge's wait for an app that does not
 * answer (504). Exits 0 after a requested stop, 1 when the system could not be started (after
 * stopping whatever it had started).
 */
function main(): void {
  const stop = new AbortController();
  const requestStop = (why: string) => {
    if (stop.signal.aborted) return;
    write(process.stdout, `stopping (${why})…\n`);
    stop.abort(why);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => requestStop(signal));
  // Belt and braces for a parent that dies without passing a signal on (npm killed with
  // SIGKILL, a shell wrapper that does not exec): this process is then re-parented.
  const parent = process.ppid;
  if (parent !== 1)
    setInterval(() => {
      if (process.ppid !== parent) requestStop('parent process gone');
    }, 1_000).unref();
  // The terminal or pipe may be gone with the parent: writing must not end the stop early.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);

  runLauncher({
    args: process.argv.slice(2),
    env: process.env,
    root: path.resolve(__dirname, '..', '..', '..'),
    stop: stop.signal,
    out: (text) => write(process.stdout, text),
    err: (text) => write(process.stderr, text),
  }).then(
    () => process.exit(0),
    (error: unknown) => {
      write(process.stderr, `causeway-launch: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}

function write(stream: NodeJS.WriteStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // the terminal is gone
  }
}

main();
