import { createServer } from 'node:net';
import Redis from 'ioredis';
import { JsonSerializer } from '../messages/json.serializer';
import { type RedisStreamsSubscriberOptions } from './redis-streams.options';
import { RedisStreamsSubscriber } from './redis-streams.subscriber';

const serializer = new JsonSerializer();

/** A local port nothing listens on: connecting to it is refused at once. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('RedisStreamsSubscriber', () => {
  it('refuses to be built without a client or a serializer, naming the option', () => {
    const build = (options: unknown) => () =>
      new RedisStreamsSubscriber(options as RedisStreamsSubscriberOptions);
    expect(build({ serializer })).toThrow(
      new TypeError('RedisStreamsSubscriber: options.client is required, got undefined'),
    );
    expect(build({ client: {} })).toThrow(
      new TypeError('RedisStreamsSubscriber: options.serializer is required, got undefined'),
    );
    expect(build(undefined)).toThrow(/options\.client is required/);
  });

  it('listens for errors on every connection it duplicates, so an outage is no unhandled error event', async () => {
    const client = new Redis({
      host: '127.0.0.1',
      port: await refusedPort(),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      // The refused socket never emits 'close' again: do not keep it 2 s after disconnect().
      disconnectTimeout: 0,
    });
    // ioredis prints "[ioredis] Unhandled error event" for an 'error' without listeners; Node
    // throws from emit('error') then. (Under jest the print does not show: the error's class
    // comes from another realm.)
    const duplicates: Redis[] = [];
    const duplicate = client.duplicate.bind(client);
    jest.spyOn(client, 'duplicate').mockImplementation((override) => {
      const connection = duplicate(override);
      duplicates.push(connection);
      return connection;
    });
    const subscriber = new RedisStreamsSubscriber({ client, serializer });
    try {
      await expect(
        subscriber.subscribe(['t'], { group: 'g', consumer: 'c' }, async () => undefined),
      ).rejects.toThrow();
      // The command connection and the subscription's reader.
      expect(duplicates).toHaveLength(2);
      for (const connection of duplicates) {
        expect(connection.listenerCount('error')).toBeGreaterThan(0);
        expect(() => connection.emit('error', new Error('ECONNREFUSED'))).not.toThrow();
      }
    } finally {
      subscriber.kill();
      for (const connection of duplicates) connection.disconnect();
      client.disconnect();
    }
  });
});
