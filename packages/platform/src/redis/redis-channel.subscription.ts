import type Redis from 'ioredis';

/** A subscription to one Redis pub/sub channel on a connection of its own. */
export interface RedisChannelSubscription {
  /** Its connection (a subscribed connection can do nothing else): `status` says if it is up. */
  readonly connection: Redis;
  /**
   * Resolves once subscribed. Rejects when Redis refused or could not be reached; the
   * connection is then closed, and a new subscription is needed.
   */
  readonly subscribed: Promise<void>;
  close(): Promise<void>;
}

/**
 * Subscribes to `channel` on a connection duplicated from `client` (named `connectionName`):
 * each message's text goes to `onMessage`, and `onReady` is told whenever the connection is
 * ready (also after a reconnect, when ioredis subscribes again by itself; messages published
 * while it was away are lost). Connection errors are left to ioredis's reconnection: an
 * unhandled 'error' event would end the process.
 */
export function subscribeRedisChannel(
  client: Redis,
  channel: string,
  options: { connectionName: string; onMessage(text: string): void; onReady?(): void },
): RedisChannelSubscription {
  const connection = client.duplicate({ connectionName: options.connectionName });
  connection.on('message', (from: string, text: string) => {
    if (from === channel) options.onMessage(text);
  });
  connection.on('error', () => undefined);
  if (options.onReady) connection.on('ready', options.onReady);
  // A subscribed connection waits for nothing, so a dead one (its network path gone without a
  // reset) would go unnoticed for hours and its messages with it. A PING now and then gives the
  // client's silence timeout something to time: unanswered, the connection is replaced and
  // ioredis subscribes again (onReady).
  const silence = client.options.socketTimeout;
  const pinger =
    silence === undefined
      ? undefined
      : setInterval(() => {
          if (connection.status === 'ready') void connection.ping().catch(() => undefined);
        }, silence).unref();
  connection.once('end', () => clearInterval(pinger));
  const subscribed = connection.subscribe(channel).then(
    () => undefined,
    (error: unknown) => {
      connection.disconnect();
      throw error;
    },
  );
  return {
    connection,
    subscribed,
    close: async () => {
      clearInterval(pinger);
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
