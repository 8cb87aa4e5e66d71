import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EventForwarder, type EventForwarderOptions } from './event.forwarder';

/**
 * A review (session 42): a forwarder built without `store`, `checkpoints` or `topicOf` (a
 * misspelt option, a config object missing one) started, and failed every round for ever with
 * a warning such as "this.options.topicOf is not a function"; nothing reached the bus.
 */
describe('EventForwarder: its required options', () => {
  const options = (): EventForwarderOptions => ({
    store: new InMemoryEventStore(),
    publisher: { publish: async () => undefined, close: async () => undefined },
    checkpoints: new InMemoryCheckpointStore(),
    topicOf: (event) => `events.${event.type}`,
  });

  it.each([
    ['store', undefined, /options\.store must be an event store .*readAllPage.*, got undefined/],
    [
      'publisher',
      {},
      /options\.publisher must be a publisher .*publish.*, got an object without publish/,
    ],
    [
      'checkpoints',
      null,
      /options\.checkpoints must be a checkpoint store .*load.*save.*, got null/,
    ],
    [
      'checkpoints',
      { load: async () => 0 },
      /options\.checkpoints must be a checkpoint store .*, got an object without save/,
    ],
    ['topicOf', 'events', /options\.topicOf must be a function \(event\) => topic, got "events"/],
    ['topicOf', undefined, /options\.topicOf must be a function \(event\) => topic, got undefined/],
  ] as const)('refuses options.%s = %p when built, naming it', (name, value, message) => {
    const given = { ...options(), [name]: value } as unknown as EventForwarderOptions;
    expect(() => new EventForwarder(given)).toThrow(TypeError);
    expect(() => new EventForwarder(given)).toThrow(message);
  });

  // A review (session 42): unchecked, a NaN pollIntervalMs (a `Number(env)` of nothing) made
  // the wait between rounds 1 ms: a caught-up forwarder read its store back to back.
  it.each([
    ['batchSize', Number.NaN, 'a positive integer, got NaN'],
    ['batchSize', 0, 'a positive integer, got 0'],
    ['batchSize', '100', 'a positive integer, got "100"'],
    ['pollIntervalMs', Number.NaN, 'a positive number of milliseconds up to 2147483647, got NaN'],
    ['pollIntervalMs', '50', 'a positive number of milliseconds up to 2147483647, got "50"'],
    ['pollIntervalMs', 0, 'a positive number of milliseconds up to 2147483647, got 0'],
    ['ledgerReadIntervalMs', Number.NaN, 'a non-negative number of milliseconds, got NaN'],
    ['ledgerReadIntervalMs', -1, 'a non-negative number of milliseconds, got -1'],
  ] as const)('refuses options.%s = %p when built, naming it', (name, value, must) => {
    const given = { ...options(), [name]: value } as unknown as EventForwarderOptions;
    expect(() => new EventForwarder(given)).toThrow(
      new TypeError(`EventForwarder: options.${name} must be ${must}`),
    );
  });

  it('takes a ledgerReadIntervalMs of 0 (every round reads) and sizes and intervals that fit', () => {
    const given = { ...options(), batchSize: 10, pollIntervalMs: 5, ledgerReadIntervalMs: 0 };
    expect(new EventForwarder(given).name).toBe('forwarder');
  });

  it('refuses no options at all', () => {
    expect(() => new EventForwarder(undefined as unknown as EventForwarderOptions)).toThrow(
      new TypeError('EventForwarder: options must be an object, got undefined'),
    );
  });

  it('takes the four it needs', () => {
    const forwarder = new EventForwarder(options());
    expect(forwarder.name).toBe('forwarder');
  });
});
