import 'reflect-metadata';
import { z } from 'zod';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { startError } from './cqrs-core.module.fixture';
import { type CqrsCoreModuleOptions } from './cqrs-core.options';

// A store, transport or worker option that is not one (a factory's promise not awaited, a
// config value where the client belongs, an object without a method) started: the stores'
// init was retried for ever ("store.init is not a function", the app up and never ready), and
// the others failed at their first use. Each is refused when the application starts, named.

const registry = () => new SerializerRegistry().register('Move', z.object({ dx: z.number() }));
const base = (): CqrsCoreModuleOptions => ({
  service: 'ports',
  instanceId: 'ports-1',
  serializer: registry(),
});

describe('CqrsCoreModule store, transport and worker options', () => {
  const broker = new InMemoryBroker({ serializer: registry() });
  const refusals: [string, () => Record<string, unknown>, string][] = [
    [
      'an event store not awaited',
      () => ({ eventStore: Promise.resolve(new InMemoryEventStore()) }),
      'options.eventStore must be an event store (with init, append, readStream, readAllPage, ' +
        'subscribe and close), got an object without init',
    ],
    [
      'a snapshot store that is a URL',
      () => ({ snapshotStore: 'mongodb://db/snapshots' }),
      'options.snapshotStore must be a snapshot store (with init, save, loadLatest and close), ' +
        'got "mongodb://db/snapshots"',
    ],
    [
      'a publisher without publish',
      () => ({ publisher: { close: async () => undefined }, subscriber: broker.subscriber() }),
      'options.publisher must be a publisher (with publish and close), got an object without publish',
    ],
    [
      'a subscriber that is a name',
      () => ({ publisher: broker, subscriber: 'redis' }),
      'options.subscriber must be a subscriber (with subscribe and close), got "redis"',
    ],
    [
      'a dead-letter queue without add',
      () => ({ deadLetters: {} }),
      'options.deadLetters must be a dead-letter queue (with add and list), got an object ' +
        'without add',
    ],
    [
      'a worker without stop',
      () => ({ workers: [{ start: () => undefined }] }),
      'options.workers[0] must be a worker (with start and stop), got an object without stop',
    ],
    [
      'workers that are not an array',
      () => ({ workers: { start: () => undefined, stop: () => undefined } }),
      'options.workers must be an array of workers (with start and stop), got an object',
    ],
    [
      'a closeOnShutdown entry without close',
      () => ({ closeOnShutdown: [{ quit: async () => undefined }] }),
      'options.closeOnShutdown[0] must be a connection (with close), got an object without close',
    ],
  ];

  describe.each(['forRoot', 'forRootAsync'] as const)('%s', (how) => {
    it.each(refusals)('refuses %s at start, naming the option', async (_what, options, message) => {
      const error = await startError(base, options(), how);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(`CqrsCoreModule: ${message}`);
    });

    it('does not show a password given where the client belongs', async () => {
      const error = await startError(
        base,
        { eventStore: 'mongodb://app:hunter2@db:27017/events' },
        how,
      );
      expect((error as Error).message).toMatch(/^CqrsCoreModule: options\.eventStore must be/);
      expect((error as Error).message).not.toContain('hunter2');
    });

    it('starts with real ones', async () => {
      expect(
        await startError(
          base,
          {
            eventStore: new InMemoryEventStore(),
            publisher: broker,
            subscriber: broker.subscriber(),
            workers: [{ start: () => undefined, stop: () => undefined }],
            closeOnShutdown: [{ close: async () => undefined }],
          },
          how,
        ),
      ).toBeUndefined();
    });
  });
});
