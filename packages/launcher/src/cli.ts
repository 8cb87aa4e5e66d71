#!/usr/bin/env node
import path from 'node:path';
import { startEdgeProxy } from './edge.proxy';
import { launchSystem, stopSystem } from './system.launcher';
import { planInstances } from './system.topology';

/**
 * causeway-launch [--scale app=N ...]
 * Starts the reference system on the servers named by REDIS_URL, KAFKA_BROKERS and MONGODB_URI
 * (scripts/start-distributed.sh exports them from .infra/env), waits until every instance is
 * ready, serves the demo page on the edge proxy (EDGE_PORT, default 8080), prints the URLs, and
 * stops everything on Ctrl-C / SIGTERM. DEV_TOKENS (default true here) lets the demo page mint
 * tokens from command-api. READ_MODEL_STORE (redis or mongodb) goes to trainer-service,
 * projection-worker and sse-gateway alike; sse-gateway needs MONGODB_URI only with mongodb.
 * The other app settings (APP_SETTINGS: TOPIC_PREFIX, COMMAND_TIMEOUT_MS, …) pass through from
 * this environment to every app. EDGE_UPSTREAM_TIMEOUT_MS (default 30000) bounds the edge's
 * wait for an app that does not answer (504).
 */
async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..', '..');
  const servers = pick(process.env);
  const scale: Record<string, number> = {};
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--scale') {
      const [app, count] = (args[++i] ?? '').split('=');
      if (!app || !count || !/^\d+$/.test(count))
        throw new Error(`--scale expects app=N, got "${args[i] ?? ''}"`);
      scale[app] = Number(count);
    } else {
      throw new Error(`unknown argument ${args[i]}`);
    }
  }
  const readModelStore = process.env.READ_MODEL_STORE || undefined;
  if (readModelStore !== undefined && readModelStore !== 'redis' && readModelStore !== 'mongodb')
    throw new Error(`READ_MODEL_STORE must be redis or mongodb, got "${readModelStore}"`);
  const instances = planInstances(servers, {
    scale,
    logLevel: process.env.LOG_LEVEL,
    adminToken: process.env.ADMIN_TOKEN,
    jwtSecret: process.env.JWT_SECRET,
    devTokens: (process.env.DEV_TOKENS ?? 'true') === 'true',
    readModelStore,
  });
  const logDir = path.join(root, '.infra', 'apps');
  process.stdout.write(`starting ${instances.length} instances (logs in ${logDir})\n`);
  const running = await launchSystem(instances, {
    root,
    logDir,
    environment: process.env,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const urlsOf = (app: string) =>
    running.filter((i) => i.app === app).map((i) => `http://127.0.0.1:${i.port}`);
  const edgePort = Number(process.env.EDGE_PORT ?? 8080);
  const upstreamTimeout = process.env.EDGE_UPSTREAM_TIMEOUT_MS || undefined;
  if (upstreamTimeout !== undefined && !/^[1-9]\d*$/.test(upstreamTimeout))
    throw new Error(
      `EDGE_UPSTREAM_TIMEOUT_MS must be a positive number of milliseconds, got "${upstreamTimeout}"`,
    );
  const edge = await startEdgeProxy(
    {
      commandApi: urlsOf('command-api'),
      gateways: urlsOf('sse-gateway'),
      demoDirectory: path.join(root, 'apps', 'embedded', 'public'),
    },
    {
      port: edgePort,
      host: process.env.EDGE_HOST ?? '127.0.0.1',
      upstreamTimeoutMs: upstreamTimeout === undefined ? undefined : Number(upstreamTimeout),
    },
  );
  process.stdout.write(
    `\nCauseway is up: ${running.length} instances ready. Demo page: http://127.0.0.1:${edgePort}/ — Ctrl-C stops them.\n`,
  );
  const stop = () => {
    process.stdout.write('stopping…\n');
    edge.close();
    void stopSystem(running).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for (const instance of running) {
    instance.child.once('exit', (code, signal) => {
      process.stderr.write(
        `${instance.instanceId} exited (${code ?? signal}); see ${instance.logFile}\n`,
      );
    });
  }
}

function pick(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['REDIS_URL', 'KAFKA_BROKERS', 'MONGODB_URI'])
    if (env[key]) out[key] = env[key]!;
  return out;
}

main().catch((error: unknown) => {
  process.stderr.write(`causeway-launch: ${(error as Error).message}\n`);
  process.exit(1);
});
