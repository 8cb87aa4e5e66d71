import Redis from 'ioredis';
import { freePort, RedisServerProcess, testNamespace } from '@causeway/testkit';
import { describeGatewayControl } from '../src/control/gateway-control.conformance';
import { RedisGatewayControl } from '../src/control/redis.gateway-control';

const ns = testNamespace('control');
let redis: Redis;
let run = 0;

beforeAll(() => {
  redis = new Redis(ns.redisUrl);
});
afterAll(() => redis.disconnect());

describeGatewayControl('redis', async (count) => {
  const keyPrefix = `${ns.keyPrefix}${run++}:`;
  const malformed: string[] = [];
  const controls = Array.from(
    { length: count },
    () =>
      new RedisGatewayControl(redis, { keyPrefix, onMalformed: (text) => malformed.push(text) }),
  );
  return {
    controls,
    malformed,
    publishRaw: async (text) => {
      await redis.publish(controls[0]!.channel, text);
    },
  };
});

describe('RedisGatewayControl while Redis is away', () => {
  it('fails to listen, and listens when asked again once Redis is back', async () => {
    // A redis-server of this test's own, started only after the first attempt.
    const port = await freePort();
    const server = new RedisServerProcess(port);
    const client = new Redis(`redis://127.0.0.1:${port}`, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
    });
    client.on('error', () => undefined);
    const control = new RedisGatewayControl(client, { keyPrefix: `${ns.keyPrefix}away:` });
    const heard: string[] = [];
    try {
      await expect(control.listen((order) => heard.push(order.userId))).rejects.toThrow();
      await server.start();
      await control.listen((order) => heard.push(order.userId));
      expect(await control.disconnect({ userId: 'ash', reason: 'back' })).toBe(1);
      const deadline = Date.now() + 5_000;
      while (heard.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(heard).toEqual(['ash']);
    } finally {
      await control.close();
      client.disconnect();
      await server.remove();
    }
  });
});
