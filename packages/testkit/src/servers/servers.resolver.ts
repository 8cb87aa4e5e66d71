import { dockerAnswers, startContainers } from './docker.resolver';
import { startLocalServers } from './local.resolver';
import {
  SERVERS,
  SERVER_ENV,
  withoutCredentials,
  type ResolvedServer,
  type ServerName,
} from './server.catalog';

/**
 * Finds a real server for each name, in this order: an explicit environment variable
 * (REDIS_URL, KAFKA_BROKERS, MONGODB_URI) → a Docker engine answering within 3 s
 * (testcontainers) → the project's local launcher (infra/local/up). Sets the variables on
 * process.env so that jest workers, which start after the global setup, inherit them.
 */
export async function resolveServers(
  names: readonly ServerName[] = SERVERS,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<ResolvedServer[]> {
  const resolved: ResolvedServer[] = [];
  let missing: ServerName[] = [];
  for (const name of names) {
    const address = process.env[SERVER_ENV[name]];
    if (address) resolved.push({ name, address, source: 'env' });
    else missing.push(name);
  }
  if (missing.length > 0 && (await dockerAnswers())) {
    resolved.push(...(await startContainers(missing)));
    missing = [];
  }
  if (missing.length > 0) resolved.push(...startLocalServers(missing));
  for (const server of resolved) process.env[SERVER_ENV[server.name]] = server.address;
  log(
    `servers: ${resolved.map((s) => `${s.name}=${withoutCredentials(s.address)} (${s.source})`).join(', ')}`,
  );
  return resolved;
}
