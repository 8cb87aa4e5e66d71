import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { redisTime, ServerClock } from '../src';

const ns = testNamespace('serverclock');
const redis = new Redis(ns.redisUrl);

afterAll(() => redis.disconnect());

describe('ServerClock over Redis TIME', () => {
  it("tells Redis' time: what every command-api and trainer-service instance stamps and checks by", async () => {
    const clock = new ServerClock({ read: redisTime(redis) });
    await clock.sync();
    const [seconds, micros] = await redis.time();
    const server = Number(seconds) * 1000 + Number(micros) / 1000;
    // Read right after Redis answered: within a few milliseconds of its TIME (one host here).
    expect(Math.abs(clock.now() - server)).toBeLessThan(50);
  });
});
