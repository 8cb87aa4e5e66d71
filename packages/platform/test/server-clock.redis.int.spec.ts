import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { redisTime, ServerClock } from '../src';

const ns = testNamespace('serverclock');
const redis = new Redis(ns.redisUrl);

afterAll(() => redis.disconnect());

/** Redis' TIME, and the clock's time just before and just after it was asked. */
async function bracket(clock: ServerClock, client: Redis) {
  const before = clock.now();
  const [seconds, micros] = await client.time();
  const after = clock.now();
  return { before, server: Number(seconds) * 1000 + Number(micros) / 1000, after };
}

describe('ServerClock over Redis TIME', () => {
  it("tells Redis' time: what every command-api and trainer-service instance stamps and checks by", async () => {
    const clock = new ServerClock({ read: redisTime(redis) });
    expect(await clock.whenSynchronised(5_000)).toBe(true);
    const [seconds, micros] = await redis.time();
    const server = Number(seconds) * 1000 + Number(micros) / 1000;
    // Read right after Redis answered: within a few milliseconds of its TIME (one host here).
    expect(Math.abs(clock.now() - server)).toBeLessThan(50);
  });

  it('agrees with Redis TIME within a few ms when it was started before its connection was open', async () => {
    // As in an app: the clock is made with the client, before the connection is open, and
    // the app's start-up then keeps the event loop busy (here 300 ms): the first TIME's round
    // trip includes both, and Redis answers at its end (session 30: stamps up to 0.4 s ahead).
    const client = new Redis(ns.redisUrl);
    try {
      const clock = new ServerClock({ read: redisTime(client) });
      for (const until = Date.now() + 300; Date.now() < until;);
      // The start-up sampling: a few readings 10 ms apart.
      expect(await clock.whenSynchronised(5_000)).toBe(true);
      for (let i = 0; i < 5; i++) {
        const { before, server, after } = await bracket(clock, client);
        expect(server).toBeGreaterThanOrEqual(before - 3);
        expect(server).toBeLessThanOrEqual(after + 3);
      }
    } finally {
      client.disconnect();
    }
  });
});
