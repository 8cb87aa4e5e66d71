import 'reflect-metadata';
import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { testNamespace } from '@causeway/testkit';
import { z } from 'zod';
import { type Envelope } from '../messages/envelope';
import { createMessage } from '../messages/message.factory';
import { SerializerRegistry } from '../messages/serializer.registry';
import { redisConnection } from '../redis/redis.connection';
import { RedisStreamsPublisher } from '../redis/redis-streams.publisher';
import { RedisStreamsSubscriber } from '../redis/redis-streams.subscriber';
import { CausewayTransportServer } from './causeway.transport-strategy';

@Controller()
class Greetings {
  readonly seen: number[] = [];
  @EventPattern('hello')
  onHello(@Payload() envelope: Envelope<{ n: number }>) {
    this.seen.push(envelope.data.n);
  }
}

describe('CausewayTransportServer over Redis Streams', () => {
  const ns = testNamespace('nest-transport');

  it("closes the subscriber's connections when the app closes, and leaves the caller's Redis connection open", async () => {
    const connectionName = ns.name('transport');
    const redis = redisConnection({ url: ns.redisUrl, options: { connectionName } });
    await redis.open();
    const serializer = new SerializerRegistry().register('Hello', z.object({ n: z.number() }));
    const layout = { keyPrefix: ns.keyPrefix, partitions: 1 };
    const subscriber = new RedisStreamsSubscriber({
      client: redis.client,
      serializer,
      ...layout,
      blockMs: 100,
    });
    const moduleRef = await Test.createTestingModule({ controllers: [Greetings] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice({
      strategy: new CausewayTransportServer({ subscriber, group: 'greeter', consumer: 'c1' }),
    });
    await app.startAllMicroservices();
    await app.init();
    const ours = async () =>
      ((await redis.client.client('LIST')) as string)
        .split('\n')
        .filter((line) => line.includes(` name=${connectionName} `)).length;
    try {
      await new RedisStreamsPublisher({ client: redis.client, serializer, ...layout }).publish(
        'hello',
        [createMessage({ type: 'Hello', category: 'event', aggregateId: 'a', data: { n: 1 } })],
      );
      const greetings = app.get(Greetings);
      const deadline = Date.now() + 10_000;
      while (greetings.seen.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(greetings.seen).toEqual([1]);
      expect(await ours()).toBeGreaterThan(1); // the subscriber's own, duplicated connections

      await app.close();

      // Only the caller's connection is left: nothing keeps the process alive after app.close().
      const closed = Date.now() + 5_000;
      while ((await ours()) > 1 && Date.now() < closed)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await ours()).toBe(1);
      await expect(redis.client.ping()).resolves.toBe('PONG');
    } finally {
      await app.close().catch(() => undefined);
      await redis.close();
    }
  });
});
