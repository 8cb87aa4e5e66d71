import { testNamespace } from '@causeway/testkit';
import { type EventStore } from '../src';
import { redisConnection, RedisEventStore, type RedisEventRecord } from '../src/redis';
import { describeEventStoreConformance } from '../src/testing';

// The Redis event store against a real server; every key of this file lives under its own prefix.
describeEventStoreConformance('redis', { densePositions: true }, async () => {
  const ns = testNamespace('esredis');
  const connections: ReturnType<typeof redisConnection>[] = [];
  const open = async (
    serializer?: ConstructorParameters<typeof RedisEventStore>[0]['serializer'],
  ): Promise<RedisEventStore> => {
    const connection = redisConnection({ url: ns.redisUrl, name: `es-${connections.length}` });
    connections.push(connection);
    await connection.open();
    const store = new RedisEventStore({
      client: connection.client,
      keyPrefix: ns.keyPrefix,
      serializer,
    });
    await store.init();
    return store;
  };
  const store: EventStore = await open();
  const raw = connections[0]!.client;
  return {
    store,
    connect: (options = {}) => open(options.serializer),
    async corrupt(streamId, version) {
      const [member] = await raw.zrangebyscore(`${ns.keyPrefix}s:${streamId}`, version, version);
      const position = member?.split(':')[0];
      if (!position) throw new Error(`no event ${streamId}@${version} to corrupt`);
      const record = JSON.parse(
        (await raw.hget(`${ns.keyPrefix}events`, position)) ?? '{}',
      ) as RedisEventRecord;
      await raw.hset(
        `${ns.keyPrefix}events`,
        position,
        JSON.stringify({ ...record, data: JSON.stringify({ tampered: true }) }),
      );
    },
    async dispose() {
      let cursor = '0';
      do {
        const [next, keys] = await raw.scan(cursor, 'MATCH', `${ns.keyPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await raw.del(...keys);
      } while (cursor !== '0');
      for (const connection of connections) await connection.close();
    },
  };
});
