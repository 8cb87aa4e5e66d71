import Redis, { type RedisOptions } from 'ioredis';
import { type Registry } from 'prom-client';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { checkUrl } from '../connections/connection-options.check';
import { withoutCredentials } from '../connections/connection-target';
import { connectionMetrics } from '../metrics/connection.metrics';

export interface RedisConnectionOptions {
  url: string;
  /** Name in health and metrics. Default `redis`. */
  name?: string;
  connectTimeoutMs?: number;
  /**
   * A command without a reply this long fails ("Command timed out"), also one queued while the
   * connection is re-established — a Redis that accepts connections but never answers would
   * otherwise hold every caller for ever. Default: none. Connections duplicated from this
   * client for blocking reads should turn it off (`duplicate({ commandTimeout: undefined })`).
   */
  commandTimeoutMs?: number;
  /** Upper bound of the reconnect backoff. Default 5 s. */
  maxReconnectDelayMs?: number;
  registry?: Registry;
  /** Extra ioredis options; the ones above win. */
  options?: RedisOptions;
}

/**
 * One shared ioredis client per process. Reconnects forever with capped exponential backoff;
 * commands issued while disconnected fail after one retry instead of queueing without bound.
 */
export function redisConnection(options: RedisConnectionOptions): ManagedConnection<Redis> {
  checkUrl('redisConnection', 'url', options?.url, /^rediss?:\/\//, 'redis:// or rediss://');
  const name = options.name ?? 'redis';
  const metrics = connectionMetrics(options.registry);
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;
  const client = new Redis(options.url, {
    ...options.options,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    ...(options.commandTimeoutMs !== undefined && { commandTimeout: options.commandTimeoutMs }),
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => {
      metrics.reconnect(name);
      return Math.min(maxDelay, 50 * 2 ** Math.min(attempt, 10));
    },
  });
  client.on('ready', () => metrics.up(name, true));
  client.on('end', () => metrics.up(name, false));
  client.on('close', () => metrics.up(name, false));
  // ioredis emits 'error' on every failed reconnect; without a listener Node would crash.
  // The last one is kept: a refused password must read as such, not as "not connected".
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  client.on('ready', () => (lastError = undefined));
  let opened = false;
  let closed = false;
  const refusal = () =>
    lastError && /WRONGPASS|NOAUTH|NOPERM/.test(lastError.message)
      ? new Error(`authentication refused: ${lastError.message}`)
      : undefined;
  return {
    name,
    client,
    target: withoutCredentials(options.url),
    async open() {
      try {
        // A failed first connect leaves ioredis reconnecting by itself; then just wait for PONG.
        if (client.status === 'wait' || client.status === 'end') await client.connect();
        await client.ping();
      } catch (error) {
        throw refusal() ?? error;
      }
      opened = true;
    },
    async check() {
      // Before open() a PING would silently connect a lazy client: report it as not connected.
      if (!opened) throw refusal() ?? new Error('not connected');
      const reply = await client.ping().catch((error: unknown) => {
        throw refusal() ?? error;
      });
      if (reply !== 'PONG') throw new Error(`unexpected PING reply ${reply}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}
