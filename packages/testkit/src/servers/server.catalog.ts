/** The three real servers Causeway's integration tests talk to, and the variable that names each. */
export const SERVERS = ['redis', 'kafka', 'mongodb'] as const;
export type ServerName = (typeof SERVERS)[number];

export const SERVER_ENV: Record<ServerName, 'REDIS_URL' | 'KAFKA_BROKERS' | 'MONGODB_URI'> = {
  redis: 'REDIS_URL',
  kafka: 'KAFKA_BROKERS',
  mongodb: 'MONGODB_URI',
};

/** Where an address came from: set by the caller, a container we started, or infra/local. */
export type ServerSource = 'env' | 'docker' | 'local';

export interface ResolvedServer {
  name: ServerName;
  address: string;
  source: ServerSource;
}

/** The address of a server, or an error that says how to get one. */
export function serverAddress(name: ServerName, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[SERVER_ENV[name]];
  if (!value) {
    throw new Error(
      `${SERVER_ENV[name]} is not set. Run integration tests through jest (its global setup starts ` +
        `the servers) or start them with infra/local/up and source .infra/env.`,
    );
  }
  return value;
}

/**
 * An address as it may be printed: every `user:password@` after a `scheme://` removed (host,
 * port, path and query kept), e.g. `mongodb://admin:secret@h:27017/db` → `mongodb://h:27017/db`.
 */
export function withoutCredentials(address: string): string {
  return address.replace(/(:\/\/)[^/?#]*@/g, '$1');
}
