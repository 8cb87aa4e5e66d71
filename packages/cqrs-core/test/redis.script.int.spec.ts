import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { RedisScript } from '../src/redis';

// RedisScript against a real Redis: run by SHA, sent again once Redis forgot it.
const ns = testNamespace('script');
const INCR_BY = new RedisScript(`return redis.call('INCRBY', KEYS[1], ARGV[1]) .. ':' .. ARGV[2]`);
let redis: Redis;
let monitor: Redis | undefined;

beforeAll(() => {
  redis = new Redis(ns.redisUrl);
});
afterAll(async () => {
  await monitor?.quit();
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** The commands this client sends while `act` runs, as MONITOR shows them (name only). */
async function sent(act: () => Promise<unknown>): Promise<string[]> {
  monitor = new Redis(ns.redisUrl);
  const commands: string[] = [];
  const feed = await monitor.monitor();
  const key = `${ns.keyPrefix}counter`;
  feed.on('monitor', (_time: string, args: string[]) => {
    if (args.includes(key)) commands.push(args[0]!.toUpperCase());
  });
  await act();
  // MONITOR's feed comes on its own connection: a last command marks where this one ends.
  await redis.exists(key);
  for (const deadline = Date.now() + 10_000; !commands.includes('EXISTS');) {
    if (Date.now() > deadline) throw new Error('MONITOR did not show the last command');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  feed.disconnect();
  monitor.disconnect();
  monitor = undefined;
  return commands.filter((name) => name === 'EVAL' || name === 'EVALSHA');
}

describe('RedisScript', () => {
  const key = () => `${ns.keyPrefix}counter`;

  it('runs by SHA once Redis knows the script; sends the text again after SCRIPT FLUSH', async () => {
    await redis.script('FLUSH');
    const first = await sent(() => INCR_BY.run(redis, [key()], [2, 'a']));
    expect(first).toEqual(['EVALSHA', 'EVAL']);
    const known = await sent(async () => {
      expect(await INCR_BY.run(redis, [key()], [3, 'b'])).toBe('5:b');
      expect(await INCR_BY.run(redis, [key()], [1, 'c'])).toBe('6:c');
    });
    expect(known).toEqual(['EVALSHA', 'EVALSHA']);
    await redis.script('FLUSH');
    expect(await INCR_BY.run(redis, [key()], [4, 'd'])).toBe('10:d');
    expect(INCR_BY.sha).toBe(String(await redis.script('LOAD', INCR_BY.lua)));
  });

  it('answers Buffers with runBuffer', async () => {
    await redis.script('FLUSH');
    const reply = await INCR_BY.runBuffer(redis, [key()], [0, 'e']);
    expect(Buffer.isBuffer(reply)).toBe(true);
    expect(String(reply)).toMatch(/^\d+:e$/);
  });

  it("passes on a script's own error, without sending it again", async () => {
    const failing = new RedisScript(`return redis.error_reply('ERR refused: ' .. ARGV[1])`);
    await failing.run(redis, [key()], ['x']).catch(() => undefined);
    const commands = await sent(() =>
      expect(failing.run(redis, [key()], ['because'])).rejects.toThrow('refused: because'),
    );
    expect(commands).toEqual(['EVALSHA']);
  });
});
