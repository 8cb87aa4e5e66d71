/** A server an app connects to, as the environment variable that names it. */
export type ServerSetting = 'REDIS_URL' | 'KAFKA_BROKERS' | 'MONGODB_URI';

/** One app of the reference system and how many instances of it to run. */
export interface AppSpec {
  /** Directory name under apps/. */
  app: string;
  /** First instance's port; instance i listens on basePort + i * 10. */
  basePort: number;
  instances: number;
  /** The servers it always needs, as environment variable names. */
  servers: readonly ServerSetting[];
  /**
   * It reads or writes the read models: it gets READ_MODEL_STORE when one is chosen, and needs
   * MONGODB_URI too when that is `mongodb` (it gets MONGODB_URI whenever it is set).
   */
  readModels?: boolean;
  /**
   * It sits behind the edge proxy and limits unauthenticated callers by address: it gets
   * TRUST_PROXY=loopback (the edge connects from loopback and appends the client's address to
   * X-Forwarded-For), or every client through the edge would share the edge's address.
   */
  trustsEdge?: boolean;
  /**
   * It verifies (or issues) users' tokens: it gets JWT_SECRET and JWT_PREVIOUS_SECRETS, which
   * the others never see; with `issuesDevTokens` it gets DEV_TOKENS too.
   */
  verifiesTokens?: boolean;
  issuesDevTokens?: boolean;
}

export const APPS: readonly AppSpec[] = [
  {
    app: 'command-api',
    basePort: 3000,
    instances: 1,
    servers: ['REDIS_URL', 'KAFKA_BROKERS'],
    trustsEdge: true,
    verifiesTokens: true,
    issuesDevTokens: true,
  },
  {
    app: 'trainer-service',
    basePort: 3001,
    instances: 1,
    servers: ['REDIS_URL', 'MONGODB_URI'],
    // It reads GroupMembers for its eager notifications.
    readModels: true,
  },
  {
    app: 'order-processor',
    basePort: 3002,
    instances: 1,
    servers: ['REDIS_URL', 'KAFKA_BROKERS', 'MONGODB_URI'],
    // Behind the edge: its progress reads (ADR 015 point 5) answer the caller's own tasks only.
    trustsEdge: true,
    verifiesTokens: true,
  },
  {
    app: 'projection-worker',
    basePort: 3003,
    instances: 1,
    servers: ['REDIS_URL', 'KAFKA_BROKERS', 'MONGODB_URI'],
    readModels: true,
  },
  {
    app: 'sse-gateway',
    basePort: 3004,
    instances: 1,
    servers: ['REDIS_URL'],
    readModels: true,
    trustsEdge: true,
    verifiesTokens: true,
  },
];

/** command-api's port: the lowest an app listens on, unless a port offset shifts them all. */
export const DEFAULT_PORT_BASE = 3000;

export interface Instance {
  app: string;
  instanceId: string;
  port: number;
  env: Record<string, string>;
}

/**
 * Expands the topology into instances. `scale` overrides instance counts per app
 * (e.g. { 'sse-gateway': 2, 'trainer-service': 2 }); `portOffset` shifts every port.
 */
export function planInstances(
  servers: Record<string, string | undefined>,
  options: {
    scale?: Record<string, number>;
    portOffset?: number;
    logLevel?: string;
    adminToken?: string;
    /** HS256 secret of command-api and sse-gateway tokens. */
    jwtSecret?: string;
    /** JWT_PREVIOUS_SECRETS (a rotation's old secrets), for the same apps only. */
    jwtPreviousSecrets?: string;
    /** Lets command-api mint tokens for any user (POST /api/dev/tokens) — for the demo page. */
    devTokens?: boolean;
    /** READ_MODEL_STORE of the apps with read models; unset: their default (redis). */
    readModelStore?: 'redis' | 'mongodb';
  } = {},
): Instance[] {
  if (!options.adminToken) throw new Error('ADMIN_TOKEN is not set: the apps need it for /admin/*');
  if (!options.jwtSecret || options.jwtSecret.length < 32)
    throw new Error(
      'JWT_SECRET is not set or shorter than 32 characters: the apps sign and verify tokens with it',
    );
  const instances: Instance[] = [];
  for (const spec of APPS) {
    const count = options.scale?.[spec.app] ?? spec.instances;
    for (let i = 0; i < count; i++) {
      const port = spec.basePort + i * 10 + (options.portOffset ?? 0);
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw new Error(
          `${spec.app}-${i + 1} would listen on port ${port}, outside 1–65535: choose a lower port base`,
        );
      const env: Record<string, string> = {
        PORT: String(port),
        HOST: '127.0.0.1',
        INSTANCE_ID: `${spec.app}-${i + 1}`,
        LOG_LEVEL: options.logLevel ?? 'info',
        ADMIN_TOKEN: options.adminToken,
      };
      // Least privilege: the token secret only where tokens are checked.
      if (spec.verifiesTokens) env.JWT_SECRET = options.jwtSecret;
      if (spec.verifiesTokens && options.jwtPreviousSecrets)
        env.JWT_PREVIOUS_SECRETS = options.jwtPreviousSecrets;
      if (spec.issuesDevTokens) env.DEV_TOKENS = String(options.devTokens ?? false);
      if (spec.trustsEdge) env.TRUST_PROXY = 'loopback';
      if (spec.readModels && options.readModelStore) env.READ_MODEL_STORE = options.readModelStore;
      for (const name of serversOf(spec, env)) {
        const value = servers[name];
        if (!value)
          throw new Error(
            `${name} is not set: ${spec.app} needs it (run infra/local/up or export it)`,
          );
        env[name] = value;
      }
      // Unused with READ_MODEL_STORE=redis where the app needs no MongoDB, but harmless.
      if (spec.readModels && servers.MONGODB_URI) env.MONGODB_URI = servers.MONGODB_URI;
      instances.push({ app: spec.app, instanceId: env.INSTANCE_ID!, port, env });
    }
  }
  return instances;
}

/** The servers an instance needs with the env planned for it. */
function serversOf(spec: AppSpec, env: Record<string, string>): readonly ServerSetting[] {
  return spec.readModels &&
    env.READ_MODEL_STORE === 'mongodb' &&
    !spec.servers.includes('MONGODB_URI')
    ? [...spec.servers, 'MONGODB_URI']
    : spec.servers;
}
