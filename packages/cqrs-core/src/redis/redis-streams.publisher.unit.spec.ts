import Redis from 'ioredis';
import { Kafka } from 'kafkajs';
import { JsonSerializer } from '../messages/json.serializer';
import { testEnvelope } from '../testing/envelope.fixture';
import { type RedisStreamsPublisherOptions } from './redis-streams.options';
import { RedisStreamsPublisher } from './redis-streams.publisher';
import { InvalidTopicError } from '../transport/transport.errors';
import { shownValue } from '../config/shown-value';

const serializer = new JsonSerializer();

/**
 * A real ioredis client (never connected: lazyConnect) whose `commands` answer as given: what
 * a server cannot be made to do, such as throwing synchronously.
 */
function withCommands(commands: Record<string, unknown>): Redis {
  return Object.assign(new Redis({ lazyConnect: true }), commands);
}

describe('RedisStreamsPublisher', () => {
  it('refuses to be built without a client or a serializer, naming the option', () => {
    const build = (options: unknown) => () =>
      new RedisStreamsPublisher(options as RedisStreamsPublisherOptions);
    expect(build({ serializer })).toThrow(
      new TypeError('RedisStreamsPublisher: options.client is required, got undefined'),
    );
    expect(build({ client: {} })).toThrow(
      new TypeError('RedisStreamsPublisher: options.serializer is required, got undefined'),
    );
    expect(build(undefined)).toThrow(/options\.client is required/);
  });

  it('refuses a client that is not ioredis, or a serializer without its methods, when built', () => {
    // Either got as far as the first XADD or XREADGROUP: "this.client.xadd is not a function".
    const build = (options: Record<string, unknown>) => () =>
      new RedisStreamsPublisher(options as unknown as RedisStreamsPublisherOptions);
    const redis = new Redis({ lazyConnect: true });
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'] });
    expect(build({ client: kafka, serializer })).toThrow(
      new TypeError(
        'RedisStreamsPublisher: options.client must be an ioredis client (redisConnection(...).client), got another object',
      ),
    );
    expect(build({ client: { client: redis }, serializer })).toThrow(
      /got a connection or an object holding the client: pass its \.client/,
    );
    expect(build({ client: 'redis://127.0.0.1', serializer })).toThrow(
      /options\.client must be an ioredis client .*got "redis:\/\/127\.0\.0\.1"/,
    );
    expect(build({ client: redis, serializer: { serialize: () => '' } })).toThrow(
      'RedisStreamsPublisher: options.serializer must be a MessageSerializer (with serialize and deserialize, e.g. a SerializerRegistry), got an object without them',
    );
    expect(build({ client: redis, serializer })).not.toThrow();
  });

  it('refuses a topic that is not a non-empty string, naming it, and writes nothing', async () => {
    // A topic from a missing setting went to the streams `undefined:normal:<n>` (or
    // `:normal:<n>`), which nothing reads: the publish resolved and the message was never seen.
    const written: unknown[] = [];
    const client = withCommands({
      xadd: async (...args: unknown[]) => void written.push(args),
      pipeline: () => {
        throw new Error('no pipeline expected');
      },
      multi: () => {
        throw new Error('no transaction expected');
      },
    });
    const publisher = new RedisStreamsPublisher({ client, serializer });
    for (const bad of [undefined, '', 42, null]) {
      const topic = bad as unknown as string;
      await expect(publisher.publish(topic, [testEnvelope('E', 1)])).rejects.toThrow(
        new InvalidTopicError(
          String(bad),
          'RedisStreamsPublisher.publish takes a non-empty string as a topic, got ' +
            shownValue(bad),
        ),
      );
      await expect(
        publisher.publish(topic, [testEnvelope('E', 1), testEnvelope('E', 2)]),
      ).rejects.toThrow(InvalidTopicError);
      await expect(publisher.publishRaw(topic, 'k', '{}')).rejects.toThrow(InvalidTopicError);
    }
    expect(written).toEqual([]);
  });

  it('refuses a stream length that is not a positive integer, naming the option and the topic', async () => {
    const client = withCommands({ xadd: async () => '1-0' });
    // Number.MAX_VALUE ("no limit") and 1e19 are integers to JavaScript, but Redis answers every
    // XADD with them `ERR value is not an integer or out of range`: refused when built, as the
    // in-memory broker refuses them for its maxLenPerTopic (checkCounts).
    for (const bad of [0, -1, 2.5, Number.NaN, Number.MAX_VALUE, 1e19])
      expect(() => new RedisStreamsPublisher({ client, serializer, maxLenPerStream: bad })).toThrow(
        `RedisStreamsPublisher: options.maxLenPerStream must be a positive integer or a function of the topic, got ${bad}`,
      );
    const publisher = new RedisStreamsPublisher({
      client,
      serializer,
      maxLenPerStream: (topic) => (topic === 'bad' ? 0 : topic === 'huge' ? 1e19 : 10),
    });
    await expect(publisher.publish('bad', [testEnvelope('E', 1)])).rejects.toThrow(
      'RedisStreamsPublisher: options.maxLenPerStream(bad) must be a positive integer, got 0',
    );
    await expect(publisher.publish('huge', [testEnvelope('E', 1)])).rejects.toThrow(
      'RedisStreamsPublisher: options.maxLenPerStream(huge) must be a positive integer, got 10000000000000000000',
    );
    await expect(publisher.publish('good', [testEnvelope('E', 1)])).resolves.toBeUndefined();
  });

  it('refuses a message size limit that is not a positive integer, naming the option', async () => {
    // NaN (a `Number(env)` of nothing) compared false with every size: nothing was too large.
    const client = withCommands({ xadd: async () => '1-0' });
    for (const bad of [Number.NaN, 0, '1048576'])
      expect(
        () =>
          new RedisStreamsPublisher({
            client,
            serializer,
            maxMessageBytes: bad as number,
          }),
      ).toThrow(
        `RedisStreamsPublisher: options.maxMessageBytes must be a positive integer, got ${typeof bad === 'string' ? JSON.stringify(bad) : String(bad)}`,
      );
    const publisher = new RedisStreamsPublisher({ client, serializer, maxMessageBytes: 100 });
    await expect(publisher.publish('t', [testEnvelope('E', 1)])).rejects.toThrow(/100/);
  });

  it('rejects a single publish whose XADD throws synchronously, instead of throwing from a microtask', async () => {
    const failure = new Error('xadd exploded');
    const client = withCommands({
      xadd: () => {
        throw failure;
      },
    });
    const publisher = new RedisStreamsPublisher({ client, serializer });
    await expect(publisher.publish('t', [testEnvelope('E', 1)])).rejects.toBe(failure);
  });

  it('rejects every publish of a burst whose pipeline throws synchronously', async () => {
    const failure = new Error('pipeline exploded');
    const client = withCommands({
      pipeline: () => {
        throw failure;
      },
    });
    const publisher = new RedisStreamsPublisher({ client, serializer });
    const outcomes = await Promise.allSettled([
      publisher.publish('t', [testEnvelope('E', 1)]),
      publisher.publish('t', [testEnvelope('E', 2)]),
      publisher.publishRaw('t', 'k', 'raw'),
    ]);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ]);
  });

  it('keeps publishing after a burst failed synchronously', async () => {
    let fail = true;
    const client = withCommands({
      xadd: async () => {
        if (fail) throw new Error('never reached');
        return '1-0';
      },
      pipeline: () => {
        throw new Error('no pipeline');
      },
    });
    const publisher = new RedisStreamsPublisher({ client, serializer });
    await expect(
      Promise.all([
        publisher.publish('t', [testEnvelope('E', 1)]),
        publisher.publish('t', [testEnvelope('E', 2)]),
      ]),
    ).rejects.toThrow('no pipeline');
    fail = false;
    await expect(publisher.publish('t', [testEnvelope('E', 3)])).resolves.toBeUndefined();
  });
});
