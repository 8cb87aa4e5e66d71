import {
  type EventStore,
  InMemoryEventStore,
  InMemorySnapshotStore,
  type MessageSerializer,
  type SnapshotStore,
} from '@causeway/cqrs-core';
import { MongoEventStore, MongoSnapshotStore } from '@causeway/cqrs-core/mongodb';
import { RedisEventStore, RedisSnapshotStore } from '@causeway/cqrs-core/redis';
import { type ExampleBackend } from '../shared/example.backend';

/** The event store and snapshot store of one bounded context, under names of its own. */
export interface ContextStores {
  readonly eventStore: EventStore;
  readonly snapshotStore: SnapshotStore;
  /** Where they keep their data, as the backend names it. */
  readonly names: string;
}

/**
 * Stores named after `context`, so that two contexts share one database (or one Redis) without
 * sharing a stream: the same stream id in each is two streams.
 * - MongoDB: collections `<context>_events_commits|streams|meta` (`collectionPrefix`) and
 *   `<context>_snapshots` (`collection`);
 * - Redis: keys under `<run prefix><context>:es:` and `<run prefix><context>:snap:` (`keyPrefix`);
 * - in memory: each store instance holds its own data (no names needed).
 */
export async function contextStores(
  backend: ExampleBackend,
  context: string,
  serializer: MessageSerializer,
): Promise<ContextStores> {
  if (backend.mongo) {
    const eventStore = new MongoEventStore({
      connection: backend.mongo,
      collectionPrefix: `${context}_events_`,
      serializer,
    });
    const snapshotStore = new MongoSnapshotStore({
      connection: backend.mongo,
      collection: `${context}_snapshots`,
    });
    await eventStore.init(); // creates the collections and their indexes (idempotent)
    await snapshotStore.init();
    return {
      eventStore,
      snapshotStore,
      names: `collections ${context}_events_* and ${context}_snapshots`,
    };
  }
  if (backend.redis) {
    const { client, keyPrefix } = backend.redis;
    const eventStore = new RedisEventStore({
      client,
      keyPrefix: `${keyPrefix}${context}:es:`,
      serializer,
    });
    const snapshotStore = new RedisSnapshotStore({
      client,
      keyPrefix: `${keyPrefix}${context}:snap:`,
    });
    await eventStore.init();
    await snapshotStore.init();
    return {
      eventStore,
      snapshotStore,
      names: `keys under ${keyPrefix}${context}:es: and ${keyPrefix}${context}:snap:`,
    };
  }
  return {
    eventStore: new InMemoryEventStore({ serializer }),
    snapshotStore: new InMemorySnapshotStore(),
    names: 'its own store instances',
  };
}
