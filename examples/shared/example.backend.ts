import { randomBytes } from 'node:crypto';
import {
  type CheckpointStore,
  type EventStore,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemorySnapshotStore,
  type ManagedConnection,
  type MessageSerializer,
  type SnapshotStore,
  createInMemoryEventStorage,
} from '@causeway/cqrs-core';
import {
  MongoCheckpointStore,
  MongoEventStore,
  MongoSnapshotStore,
  mongoConnection,
} from '@causeway/cqrs-core/mongodb';
import {
  RedisCheckpointStore,
  RedisEventStore,
  RedisSnapshotStore,
  redisConnection,
} from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import mongoose, { type Connection } from 'mongoose';
import { type ExampleOptions, type StoreKind } from './example.options';

/**
 * The stores of one example run, on the backend it was asked for. Every call of `eventStore`
 * opens the same data (as two processes share one server), with the serializer given.
 * The data is the run's own — a MongoDB database or a Redis key prefix named after the example
 * and a random suffix — so runs side by side do not meet, and `close` removes it.
 */
export interface ExampleBackend {
  readonly kind: StoreKind;
  /** Where the run's data lives, for the example's first line. */
  readonly where: string;
  eventStore(options?: { serializer?: MessageSerializer }): Promise<EventStore>;
  snapshotStore(): Promise<SnapshotStore>;
  checkpointStore(): CheckpointStore;
  /** Set on `mongodb`: the open connection to the run's database. */
  readonly mongo?: Connection;
  /** Set on `redis`: the open client, and the prefix of every key the run writes. */
  readonly redis?: { client: Redis; keyPrefix: string };
  /** Closes the connections first, then removes what the run wrote. Safe to call twice. */
  close(): Promise<void>;
}

export async function openBackend(
  example: string,
  options: ExampleOptions,
): Promise<ExampleBackend> {
  const run = `${example.replace(/[^a-z0-9]+/gi, '_')}_${randomBytes(3).toString('hex')}`;
  switch (options.store ?? 'memory') {
    case 'memory':
      return memoryBackend();
    case 'mongodb':
      return mongoBackend(required(options.mongodbUri, 'mongodbUri'), `examples_${run}`);
    case 'redis':
      return redisBackend(required(options.redisUrl, 'redisUrl'), `examples:${run}:`);
  }
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} is required for this store`);
  return value;
}

function memoryBackend(): ExampleBackend {
  const storage = createInMemoryEventStorage();
  const snapshots = new InMemorySnapshotStore();
  const checkpoints = new InMemoryCheckpointStore();
  return {
    kind: 'memory',
    where: 'in process memory',
    eventStore: async ({ serializer } = {}) => new InMemoryEventStore({ serializer, storage }),
    snapshotStore: async () => snapshots,
    checkpointStore: () => checkpoints,
    close: async () => {},
  };
}

async function mongoBackend(uri: string, database: string): Promise<ExampleBackend> {
  const databaseUri = withDatabase(uri, database);
  const mongo = mongoConnection({
    uri: databaseUri,
    source: 'MONGODB_URI',
    name: 'causeway-examples',
  });
  await mongo.open();
  let closed = false;
  return {
    kind: 'mongodb',
    where: `MongoDB database ${database}`,
    mongo: mongo.client,
    async eventStore({ serializer } = {}) {
      const store = new MongoEventStore({ connection: mongo.client, serializer });
      await store.init();
      return store;
    },
    async snapshotStore() {
      const store = new MongoSnapshotStore({ connection: mongo.client });
      await store.init();
      return store;
    },
    checkpointStore: () => new MongoCheckpointStore(mongo.client),
    async close() {
      if (closed) return;
      closed = true;
      await mongo.close();
      await dropDatabase(databaseUri);
    },
  };
}

/**
 * Dropped through a fresh connection once the run's own is closed: dropping a database that a
 * connection still queries can corrupt FerretDB (docs/adr/006-ferretdb-constraints.md).
 */
async function dropDatabase(uri: string): Promise<void> {
  const connection = await mongoose
    .createConnection(uri, { serverSelectionTimeoutMS: 5_000 })
    .asPromise();
  try {
    await connection.dropDatabase();
  } finally {
    await connection.close();
  }
}

/**
 * MONGODB_URI with its database replaced, keeping credentials and options. The path's database
 * is also where the driver authenticates when no authSource is given (admin without one), so
 * a URI with credentials keeps it as authSource: the user stays checked where it was defined
 * (not for an external mechanism, whose users are always checked in $external).
 * (mongodb+srv takes authSource from the DNS TXT record, as before: left as it is.)
 */
export function withDatabase(uri: string, database: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/([^/?]+))(?:\/([^?]*))?(?:\?(.*))?$/.exec(uri);
  if (!match) throw new Error(`MONGODB_URI is not a MongoDB connection string: ${uri}`);
  const [, base, authority, path, query] = match;
  const options = query ? query.split('&') : [];
  const srv = uri.startsWith('mongodb+srv:');
  // Users of an external mechanism (X.509, LDAP, Kerberos, AWS, OIDC) are checked in
  // $external, whatever the path: the driver refuses any other authSource for them.
  const external = options.some((o) =>
    /^authMechanism=(MONGODB-X509|PLAIN|GSSAPI|MONGODB-AWS|MONGODB-OIDC)$/i.test(o),
  );
  if (
    authority!.includes('@') &&
    !srv &&
    !external &&
    !options.some((o) => /^authSource=/i.test(o))
  )
    options.push(`authSource=${path || 'admin'}`);
  return `${base}/${database}${options.length > 0 ? `?${options.join('&')}` : ''}`;
}

async function redisBackend(url: string, keyPrefix: string): Promise<ExampleBackend> {
  const redis: ManagedConnection<Redis> = redisConnection({
    url,
    source: 'REDIS_URL',
    name: 'causeway-examples',
  });
  try {
    await redis.open();
  } catch (error) {
    // A failed open leaves ioredis reconnecting in the background, which would keep the
    // process alive after the error is printed: give up on it.
    await redis.close();
    throw error;
  }
  let closed = false;
  return {
    kind: 'redis',
    where: `Redis keys under ${keyPrefix}`,
    redis: { client: redis.client, keyPrefix },
    async eventStore({ serializer } = {}) {
      const store = new RedisEventStore({
        client: redis.client,
        keyPrefix: `${keyPrefix}es:`,
        serializer,
      });
      await store.init();
      return store;
    },
    snapshotStore: async () =>
      new RedisSnapshotStore({ client: redis.client, keyPrefix: `${keyPrefix}snap:` }),
    checkpointStore: () => new RedisCheckpointStore(redis.client, { keyPrefix }),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await unlinkKeys(redis.client, `${keyPrefix}*`);
      } finally {
        await redis.close();
      }
    },
  };
}

/** The keys matching `pattern`, found with SCAN (KEYS would block the server). */
export async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

async function unlinkKeys(client: Redis, pattern: string): Promise<void> {
  const keys = await scanKeys(client, pattern);
  if (keys.length > 0) await client.unlink(...keys);
}
