import { type Connection } from 'mongoose';
import { type AppendOptions } from '../event-store/event-store.port';
import { testEnvelope } from '../testing/envelope.fixture';
import { MongoEventStore, type MongoEventStoreOptions } from './mongodb.event-store';

describe('MongoEventStore', () => {
  it('refuses to be built without a connection, naming the option', () => {
    expect(() => new MongoEventStore({} as MongoEventStoreOptions)).toThrow(
      new TypeError('MongoEventStore: options.connection is required, got undefined'),
    );
    expect(() => new MongoEventStore(undefined as unknown as MongoEventStoreOptions)).toThrow(
      /options\.connection is required/,
    );
  });

  // Not initialised: anything that reached the database would fail with "call init() first".
  const store = () => new MongoEventStore({ connection: {} as Connection });

  it('refuses an expected version outside the port before anything else', async () => {
    const append = (options: unknown) =>
      store().append('s-1', [testEnvelope('E', 1)], options as AppendOptions);
    await expect(append({ expectedVersion: 'nostream' })).rejects.toThrow(
      new TypeError(
        `expectedVersion must be a non-negative integer, 'any', 'no-stream' or 'exists', got "nostream"`,
      ),
    );
    await expect(append(undefined)).rejects.toThrow(/^expectedVersion .* got undefined$/);
    await expect(append({ expectedVersion: 1.5 })).rejects.toThrow(TypeError);
  });

  it('refuses a delete mode outside the port before anything else', async () => {
    await expect(
      store().deleteStream('s-1', { mode: 'Soft' } as unknown as { mode: 'soft' }),
    ).rejects.toThrow(new TypeError(`mode must be 'soft' or 'hard', got "Soft"`));
    await expect(
      store().deleteStream('s-1', { mode: 'soft', expectedVersion: -1 }),
    ).rejects.toThrow(/^expectedVersion .* got -1$/);
  });
});
