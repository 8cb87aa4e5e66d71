import { APPS, DEFAULT_PORT_BASE } from './system.topology';

/** What causeway-launch's arguments and environment ask for, checked. */
export interface CliOptions {
  /** Instances per app, where not the default. */
  scale: Record<string, number>;
  /** command-api's port; every app's port moves with it (default 3000: ports 3000–3014). */
  portBase: number;
  /** The edge proxy's port (EDGE_PORT, default 8080). */
  edgePort: number;
  /** `--help` / `-h`: print {@link USAGE} and start nothing. */
  help: boolean;
}

/** What `causeway-launch --help` prints. */
export const USAGE = `Usage: causeway-launch [--scale app=N ...] [--port-base N] [--help]
  (npm run start:distributed -- [options])

Starts the reference system as separate processes on the servers named by REDIS_URL,
KAFKA_BROKERS and MONGODB_URI, and serves the demo page on the edge proxy.

Options:
  --scale app=N   instances of an app (repeatable); apps: ${APPS.map((spec) => spec.app).join(', ')}
  --port-base N   command-api's port; every app's port moves with it (default ${DEFAULT_PORT_BASE},
                  or APP_PORT_BASE)
  --help, -h      print this and exit

Environment: EDGE_PORT (default 8080), EDGE_HOST (default 127.0.0.1), READ_MODEL_STORE
(redis|mongodb), DEV_TOKENS (default true), EDGE_UPSTREAM_TIMEOUT_MS, READY_TIMEOUT_MS (how long
each app may take to be ready, default 180000), and the apps' settings
(TOPIC_PREFIX, …; see the README) and NODE_OPTIONS, passed on to every app.
`;

/**
 * `--scale app=N` (repeatable) and `--port-base N` (or APP_PORT_BASE; the argument wins) from
 * the arguments, EDGE_PORT from the environment.
 */
export function parseCliOptions(args: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const scale: Record<string, number> = {};
  let help = false;
  let portBase = env.APP_PORT_BASE ? portOf('APP_PORT_BASE', env.APP_PORT_BASE) : undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--scale') {
      const [app, count, ...extra] = (args[++i] ?? '').split('=');
      if (!app || !count || extra.length > 0 || !/^\d+$/.test(count))
        throw new Error(`--scale expects app=N, got "${args[i] ?? ''}"`);
      const apps = APPS.map((spec) => spec.app);
      if (!apps.includes(app))
        throw new Error(`--scale names no app "${app}"; the apps are ${apps.join(', ')}`);
      if (Number(count) < 1)
        throw new Error(`--scale ${app}=${count}: every app needs at least one instance`);
      scale[app] = Number(count);
    } else if (args[i] === '--help' || args[i] === '-h') {
      help = true;
    } else if (args[i] === '--port-base') {
      portBase = portOf('--port-base', args[++i] ?? '');
    } else {
      throw new Error(`unknown argument ${args[i]} (--help lists the options)`);
    }
  }
  return {
    scale,
    portBase: portBase ?? DEFAULT_PORT_BASE,
    edgePort: env.EDGE_PORT ? portOf('EDGE_PORT', env.EDGE_PORT) : 8080,
    help,
  };
}

function portOf(name: string, value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65_535))
    throw new Error(`${name} expects a port number (1–65535), got "${value}"`);
  return port;
}
