import { freePort, RedisServerProcess } from '@causeway/testkit';
import Redis from 'ioredis';
import { testNotification } from './notification-log.conformance';
import { RedisNotificationLog } from './redis.notification-log';

/*
 * An append costs Redis the same on a long log as on a short one. Redis' own time per script
 * call (INFO commandstats, usec_per_call of EVALSHA) is measured on a Redis server of this
 * file's own, so nothing else's commands count; the append once walked the whole stream each
 * time (a reverse range from a bound older than every entry), 2 ms an append at 30 000 entries.
 */
const LONG_LOG = 100_000;

async function scriptMicrosPerCall(client: Redis): Promise<number> {
  const stats = await client.info('commandstats');
  const line = stats.split('\r\n').find((row) => row.startsWith('cmdstat_evalsha:'));
  const perCall = /usec_per_call=([\d.]+)/.exec(line ?? '')?.[1];
  if (perCall === undefined) throw new Error(`no EVALSHA in INFO commandstats:\n${stats}`);
  return Number(perCall);
}

async function callsOf(client: Redis, command: string): Promise<number> {
  const stats = await client.info('commandstats');
  const line = stats.split('\r\n').find((row) => row.startsWith(`cmdstat_${command}:`));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

describe('RedisNotificationLog append on a long log', () => {
  let server: RedisServerProcess;
  let client: Redis;
  let log: RedisNotificationLog;

  beforeAll(async () => {
    server = new RedisServerProcess(await freePort());
    await server.start();
    client = new Redis(server.url);
    log = new RedisNotificationLog({ client, keyPrefix: 'cost:', maxLength: 2 * LONG_LOG });
    // The log's first append creates the stream; the rest are written raw, 1 000 a pipeline.
    await log.append(testNotification());
    const entry = JSON.stringify(testNotification());
    for (let written = 1; written < LONG_LOG; written += 1_000) {
      const pipeline = client.pipeline();
      for (let i = 0; i < 1_000; i++) pipeline.xadd('cost:notifications', '*', 'n', entry);
      await pipeline.exec();
    }
  }, 120_000);

  afterAll(async () => {
    await log.close();
    client.disconnect();
    await server.remove();
  });

  it('costs Redis well under a millisecond with 100 000 entries, none past retention', async () => {
    expect(await client.xlen('cost:notifications')).toBeGreaterThanOrEqual(LONG_LOG);
    await client.config('RESETSTAT');
    for (let i = 0; i < 50; i++) await log.append(testNotification());
    // About 20–40 µs here; the whole-stream walk took 5–10 ms at this length.
    expect(await scriptMicrosPerCall(client)).toBeLessThan(1_000);
  });

  it('wakes an idle follower with one round trip a notification: XREAD BLOCK and the trimming record', async () => {
    const stop = new AbortController();
    const delivered: string[] = [];
    let wake: (() => void) | undefined;
    const following = log.follow(
      '$',
      (entries) => {
        delivered.push(...entries.map((entry) => entry.id));
        wake?.();
      },
      stop.signal,
    );
    // Caught up: the follower's first read is waiting when the counting starts.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.config('RESETSTAT');
    const appends = 20;
    for (let i = 0; i < appends; i++) {
      const arrived = new Promise<void>((resolve) => (wake = resolve));
      await log.append(testNotification());
      await arrived;
      // Idle again before the next append: each one wakes the follower.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    stop.abort();
    await following;
    expect(delivered).toHaveLength(appends);
    // One XREAD (with the record's GET pipelined: the append's script GETs too, so GETs are not
    // counted) per wake-up; the waiting read at the start may be counted too. Session 46's
    // follower read each arrival a second time in a MULTI.
    expect(await callsOf(client, 'xread')).toBeLessThanOrEqual(appends + 1);
    expect(await callsOf(client, 'multi')).toBe(0);
  });
});
