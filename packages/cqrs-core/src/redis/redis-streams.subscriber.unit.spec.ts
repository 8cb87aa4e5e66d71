import { createServer } from 'node:net';
import Redis from 'ioredis';
import { Kafka } from 'kafkajs';
import { JsonSerializer } from '../messages/json.serializer';
import { isMissingGroup } from './redis-streams.errors';
import { type RedisStreamsSubscriberOptions, subscriptionTiming } from './redis-streams.options';
import { RedisStreamsSubscriber } from './redis-streams.subscriber';
import { InvalidTopicError } from '../transport/transport.errors';
import { shownValue } from '../config/shown-value';

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

  it('refuses a client that is not ioredis, or a serializer without its methods, when built', () => {
    // Either got as far as the first XADD or XREADGROUP: "this.client.xadd is not a function".
    const build = (options: Record<string, unknown>) => () =>
      new RedisStreamsSubscriber(options as unknown as RedisStreamsSubscriberOptions);
    const redis = new Redis({ lazyConnect: true });
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'] });
    expect(build({ client: kafka, serializer })).toThrow(
      new TypeError(
        'RedisStreamsSubscriber: options.client must be an ioredis client (redisConnection(...).client), got another object',
      ),
    );
    expect(build({ client: { client: redis }, serializer })).toThrow(
      /got a connection or an object holding the client: pass its \.client/,
    );
    expect(build({ client: 'redis://127.0.0.1', serializer })).toThrow(
      /options\.client must be an ioredis client .*got "redis:\/\/127\.0\.0\.1"/,
    );
    expect(build({ client: redis, serializer: { serialize: () => '' } })).toThrow(
      'RedisStreamsSubscriber: options.serializer must be a MessageSerializer (with serialize and deserialize, e.g. a SerializerRegistry), got an object without them',
    );
    expect(build({ client: redis, serializer })).not.toThrow();
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

  it('has a healthy probe while it has no subscription', async () => {
    const subscriber = new RedisStreamsSubscriber({
      client: new Redis({ lazyConnect: true }),
      serializer,
    });
    const probe = subscriber.probe();
    expect(probe).toMatchObject({ name: 'redis-streams', critical: true });
    await expect(probe.check()).resolves.toBeUndefined();
  });

  it('calls a subscription stuck after the longest legitimate take-over by default', () => {
    const client = {} as Redis;
    expect(subscriptionTiming({ client, serializer }).stuckAfterMs).toBe(10_000 + 30_000 + 2_000);
    expect(
      subscriptionTiming({
        client,
        serializer,
        leaseTtlMs: 1_000,
        claimIdleMs: 500,
        heartbeatMs: 100,
      }).stuckAfterMs,
    ).toBe(1_700);
    expect(subscriptionTiming({ client, serializer, stuckAfterMs: 5_000 }).stuckAfterMs).toBe(
      5_000,
    );
  });

  it('refuses timing settings it cannot use, naming them, before opening a connection', () => {
    const client = new Redis({ lazyConnect: true });
    const timing = (settings: Record<string, unknown>) => () =>
      subscriptionTiming({ client, serializer, ...settings } as RedisStreamsSubscriberOptions);
    // NaN (a `Number(env)` of nothing): a failed entry's redelivery time was NaN, never reached,
    // so it never ran again and the later entries of its key waited for ever.
    expect(timing({ redeliveryDelayMs: NaN })).toThrow(
      new TypeError(
        'RedisStreamsSubscriber: options.redeliveryDelayMs must be a non-negative number of milliseconds up to 2147483647, got NaN',
      ),
    );
    expect(timing({ heartbeatMs: '1000' })).toThrow(
      /options\.heartbeatMs must be a positive number of milliseconds up to 2147483647, got "1000"/,
    );
    expect(timing({ blockMs: 0 })).toThrow(/options\.blockMs must be a positive whole number/);
    expect(timing({ claimIdleMs: -1 })).toThrow(/options\.claimIdleMs must be a non-negative/);
    expect(timing({ closeTimeoutMs: Infinity })).toThrow(/options\.closeTimeoutMs/);
    expect(timing({ prefetch: 1.5 })).toThrow(
      new TypeError('RedisStreamsSubscriber: options.prefetch must be a positive integer, got 1.5'),
    );
    // Sent to Redis (SET PX, XAUTOCLAIM, XREADGROUP BLOCK), which refuses a fraction: every
    // lease, claim or read of the subscription then failed ("value is not an integer").
    expect(timing({ leaseTtlMs: 2500.5 })).toThrow(
      new TypeError(
        'RedisStreamsSubscriber: options.leaseTtlMs must be a positive whole number of milliseconds up to 2147483647, got 2500.5',
      ),
    );
    expect(timing({ claimIdleMs: 0.5 })).toThrow(
      /options\.claimIdleMs must be a non-negative whole/,
    );
    expect(timing({ blockMs: 1.5 })).toThrow(/options\.blockMs must be a positive whole/);
    // Each of them is refused by the constructor, before a connection is duplicated.
    expect(() => new RedisStreamsSubscriber({ client, serializer, stuckAfterMs: NaN })).toThrow(
      /options\.stuckAfterMs/,
    );
    // What they may be: 0 where it means "no delay", Infinity where it means "keep".
    expect(
      timing({
        redeliveryDelayMs: 0,
        claimIdleMs: 0,
        closeTimeoutMs: 0,
        fanOutGroupIdleMs: Infinity,
      }),
    ).not.toThrow();
    client.disconnect();
  });

  it('refuses a topic that is not a non-empty string, naming it, before opening a connection', async () => {
    // subscribe(['orders', '']) read the streams `:normal:<n>`, which no publish of a real topic
    // reaches, and waited there for ever.
    const client = new Redis({ lazyConnect: true });
    const duplicate = jest.spyOn(client, 'duplicate');
    const subscriber = new RedisStreamsSubscriber({ client, serializer });
    for (const bad of ['', undefined, 7]) {
      await expect(
        subscriber.subscribe(
          ['orders', bad as unknown as string],
          { group: 'g', consumer: 'c' },
          async () => undefined,
        ),
      ).rejects.toThrow(
        new InvalidTopicError(
          String(bad),
          `RedisStreamsSubscriber.subscribe takes a non-empty string as a topic, got ${shownValue(bad)}`,
        ),
      );
    }
    expect(duplicate).not.toHaveBeenCalled();
    await subscriber.close();
    client.disconnect();
  });

  it('recognises NOGROUP, also inside a script error', () => {
    expect(isMissingGroup(new Error("NOGROUP No such key 's' or consumer group 'g'"))).toBe(true);
    expect(
      isMissingGroup(
        new Error('ERR Error running script (call to f_1): @user_script:5: NOGROUP No such key'),
      ),
    ).toBe(true);
    expect(isMissingGroup(new Error('BUSYGROUP Consumer Group name already exists'))).toBe(false);
    expect(isMissingGroup(undefined)).toBe(false);
  });
});
