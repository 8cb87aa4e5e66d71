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

/**
 * Redis' TIME falls between what the clock told just before and just after asking, give or take
 * the clock's error bound: half the round trip of the reading it kept, which a loaded machine
 * stretches (CI: 4–10 ms, where an idle one has 0.2), plus the millisecond redisTime floors TIME
 * to and the one now() floors to.
 */
async function expectAgreement(clock: ServerClock, client: Redis): Promise<void> {
  const bound = clock.errorBoundMs!;
  const { before, server, after } = await bracket(clock, client);
  expect(server).toBeGreaterThanOrEqual(before - bound);
  expect(server).toBeLessThanOrEqual(after + bound + 2);
}

describe('ServerClock over Redis TIME', () => {
  it("tells Redis' time: what every command-api and trainer-service instance stamps and checks by", async () => {
    const clock = new ServerClock({ read: redisTime(redis) });
    expect(await clock.whenSynchronised(5_000)).toBe(true);
    // Within a few milliseconds of its TIME (one host here): a round trip at most.
    await expectAgreement(clock, redis);
  });

  it('agrees with Redis TIME within a few ms when it was started before its connection was open', async () => {
    // As in an app: the clock is made with the client, before the connection is open, and
    // the app's start-up then keeps the event loop busy (here 300 ms): the first TIME's round
    // trip includes both, and Redis answers at its end (session 30: stamps up to 0.4 s ahead).
    const client = new Redis(ns.redisUrl);
    try {
      const read = redisTime(client);
      const roundTrips: number[] = [];
      const clock = new ServerClock({
        read: async () => {
          const sent = performance.now();
          try {
            return await read();
          } finally {
            roundTrips.push(performance.now() - sent);
          }
        },
      });
      for (const until = Date.now() + 300; Date.now() < until;);
      // The start-up sampling: a few readings 10 ms apart.
      expect(await clock.whenSynchronised(5_000)).toBe(true);
      // Not the first reading (300 ms or more, so off by up to half of that): a later, better one.
      expect(roundTrips[0]).toBeGreaterThanOrEqual(300);
      expect(clock.errorBoundMs).toBeLessThan(roundTrips[0]! / 2);
      for (let i = 0; i < 5; i++) await expectAgreement(clock, client);
    } finally {
      client.disconnect();
    }
  });
});
