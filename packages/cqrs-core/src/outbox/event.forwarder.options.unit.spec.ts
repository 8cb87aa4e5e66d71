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
