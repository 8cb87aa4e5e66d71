import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
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
