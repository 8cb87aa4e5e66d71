import { type ResolvedServer, type ServerName } from './server.catalog';

/** Containers started for this jest run, stopped by the global teardown. */
interface Stoppable {
  stop(): Promise<unknown>;
}
const started: Stoppable[] = [];

const DOCKER_PROBE_TIMEOUT_MS = 3_000;

/**
 * True when a Docker engine answers within 3 s. testcontainers' detection fails fast without a
 * socket, but can hang when a socket exists and the daemon does not answer: hence the race.
 */
export async function dockerAnswers(timeoutMs = DOCKER_PROBE_TIMEOUT_MS): Promise<boolean> {
  if (process.env.CAUSEWAY_NO_DOCKER === '1') return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    return await Promise.race([getContainerRuntimeClient().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Starts one container per missing server and returns their addresses. */
export async function startContainers(names: readonly ServerName[]): Promise<ResolvedServer[]> {
  const resolved: ResolvedServer[] = [];
  for (const name of names) {
    resolved.push({ name, address: await startContainer(name), source: 'docker' });
  }
  return resolved;
}

async function startContainer(name: ServerName): Promise<string> {
  switch (name) {
    case 'redis': {
      const { RedisContainer } = await import('@testcontainers/redis');
      const container = await new RedisContainer('redis:7.4-alpine').start();
      started.push(container);
      return container.getConnectionUrl();
    }
    case 'kafka': {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const container = await new KafkaContainer('confluentinc/cp-kafka:7.9.0')
        .withKraft()
        .withExposedPorts(9093)
        .start();
      started.push(container);
      return `${container.getHost()}:${container.getMappedPort(9093)}`;
    }
    case 'mongodb': {
      const { MongoDBContainer } = await import('@testcontainers/mongodb');
      const container = await new MongoDBContainer('mongo:7.0').start();
      started.push(container);
      const uri = new URL(container.getConnectionString());
      uri.pathname = '/causeway';
      uri.searchParams.set('directConnection', 'true');
      return uri.toString();
    }
  }
}

export async function stopContainers(): Promise<void> {
  await Promise.allSettled(started.splice(0).map((container) => container.stop()));
}
