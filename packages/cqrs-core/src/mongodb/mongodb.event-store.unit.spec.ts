import { type Connection } from 'mongoose';
import { type AppendOptions } from '../event-store/event-store.port';
import { testEnvelope } from '../testing/envelope.fixture';
import {
  checkRetryableWrites,
  MongoEventStore,
  type MongoEventStoreOptions,
} from './mongodb.event-store';

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

describe('checkRetryableWrites', () => {
  it('refuses a connection that retries writes on a replica set or a sharded cluster, naming the setting', () => {
    expect(() => checkRetryableWrites(true, { setName: 'rs0' })).toThrow('retryWrites=false');
    expect(() => checkRetryableWrites(undefined, { msg: 'isdbgrid' })).toThrow('retryWrites');
  });

  it('accepts a connection that does not retry, and any standalone server (FerretDB included)', () => {
    expect(() => checkRetryableWrites(false, { setName: 'rs0' })).not.toThrow();
    expect(() => checkRetryableWrites(true, {})).not.toThrow();
  });
});
