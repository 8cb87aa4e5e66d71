import type Redis from 'ioredis';
import { type AppendOptions } from '../event-store/event-store.port';
import { testEnvelope } from '../testing/envelope.fixture';
import { RedisEventStore, type RedisEventStoreOptions } from './redis.event-store';

/** A client that records every command and answers none: the checks must come first. */
function recordingClient(): { client: Redis; calls: string[] } {
  const calls: string[] = [];
  const client = new Proxy(
    {},
    {
      get: (_, name) => () => {
        calls.push(String(name));
        return new Promise(() => undefined);
      },
    },
  ) as Redis;
  return { client, calls };
}

describe('RedisEventStore', () => {
  it('refuses to be built without a client, naming the option', () => {
    expect(() => new RedisEventStore({} as RedisEventStoreOptions)).toThrow(
      new TypeError('RedisEventStore: options.client is required, got undefined'),
    );
    expect(() => new RedisEventStore(undefined as unknown as RedisEventStoreOptions)).toThrow(
      /options\.client is required/,
    );
  });

  it('refuses a readBatchSize that is no positive integer, naming it, as the MongoDB store does', () => {
    const { client } = recordingClient();
    // 0 or NaN read nothing per round trip: readAll and every subscription looped for ever.
    for (const readBatchSize of [0, -1, Number.NaN, 1.5, Infinity])
      expect(() => new RedisEventStore({ client, readBatchSize })).toThrow(
        new RangeError(
          `RedisEventStore: options.readBatchSize must be a positive integer, got ${String(readBatchSize)}`,
        ),
      );
    expect(() => new RedisEventStore({ client, readBatchSize: 1 })).not.toThrow();
  });

  it('refuses an expected version outside the port before sending anything', async () => {
    const { client, calls } = recordingClient();
    const store = new RedisEventStore({ client });
    const append = (options: unknown) =>
      store.append('s-1', [testEnvelope('E', 1)], options as AppendOptions);
    await expect(append({ expectedVersion: 'nostream' })).rejects.toThrow(
      new TypeError(
        `expectedVersion must be a non-negative integer, 'any', 'no-stream' or 'exists', got "nostream"`,
      ),
    );
    await expect(append(undefined)).rejects.toThrow(/^expectedVersion .* got undefined$/);
    await expect(append({ expectedVersion: -1 })).rejects.toThrow(TypeError);
    expect(calls).toEqual([]);
  });

  it('refuses a delete mode outside the port before sending anything', async () => {
    const { client, calls } = recordingClient();
    const store = new RedisEventStore({ client });
    await expect(
      store.deleteStream('s-1', { mode: 'Soft' } as unknown as { mode: 'soft' }),
    ).rejects.toThrow(new TypeError(`mode must be 'soft' or 'hard', got "Soft"`));
    await expect(
      store.deleteStream('s-1', { mode: 'hard', expectedVersion: 'nostream' as 'no-stream' }),
    ).rejects.toThrow(/^expectedVersion .* got "nostream"$/);
    expect(calls).toEqual([]);
  });
});
