import { redisConnection } from '@causeway/cqrs-core/redis';
import { Arrivals, StallingProxy, testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { RedisNotificationLog, subscribeRedisChannel } from '../src';
import { testNotification } from '../src/testing';

// The connections that wait rather than ask — a pub/sub subscription, a notification log's
// blocking follower — when their network path dies without a reset while Redis is fine (the
// proxy stalls the connections open at the time and lets new ones through). Nothing fails on
// such a connection: without a silence timeout it stays dead for hours and its messages with it.
const SILENCE_MS = 500;
/**
 * How long a dead connection may take to be replaced and heard from again: a PING each silence
 * timeout, unanswered for another, then the reconnect and a loaded machine.
 */
const RECOVERY_MS = 2 * SILENCE_MS + 5_000;

describe('connections that wait, after their network path died', () => {
  const ns = testNamespace('silentwait');
  let proxy: StallingProxy;
  let direct: Redis;
  let connection: ReturnType<typeof redisConnection>;

  beforeEach(async () => {
    const inFront = await StallingProxy.inFrontOf(ns.redisUrl, 6379);
    proxy = inFront.proxy;
    connection = redisConnection({ url: inFront.url, silenceTimeoutMs: SILENCE_MS });
    await connection.open();
    direct = new Redis(ns.redisUrl);
  });
  afterEach(async () => {
    proxy.heal(); // connections still stalled could not QUIT
    await connection.close();
    direct.disconnect();
    await proxy.close();
  });

  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const at = (x: number) =>
    testNotification({ params: { trainerId: 'ash', x, y: 0, isMoving: false, dirX: 0, dirY: 0 } });

  it('a channel subscription hears messages again within a few silence timeouts', async () => {
    const channel = `${ns.keyPrefix}channel`;
    const heard = new Arrivals<string>();
    const subscription = subscribeRedisChannel(connection.client, channel, {
      connectionName: 'test',
      onMessage: (text) => heard.push(text),
    });
    const publishing = new AbortController();
    try {
      await subscription.subscribed;
      await direct.publish(channel, 'before');
      await heard.until((texts) => texts.includes('before'), 'the message before the stall');
      proxy.stall('open');
      // Published while it was away is lost (pub/sub): published every 100 ms until one is
      // heard. Without the silence timeout it never hears again.
      void (async () => {
        for (let n = 0; !publishing.signal.aborted; n++) {
          await direct.publish(channel, `after-${n}`);
          await delay(100);
        }
      })().catch(() => undefined); // a publish after the test ended
      await heard.until(
        (texts) => texts.some((text) => text.startsWith('after')),
        `a message published after the stall, within ${RECOVERY_MS} ms`,
        RECOVERY_MS,
      );
    } finally {
      publishing.abort();
      await subscription.close();
    }
  }, 15_000);

  it('a log follower reads what was appended while its connection was dead, in order', async () => {
    const log = new RedisNotificationLog({
      client: connection.client,
      keyPrefix: `${ns.keyPrefix}log:`,
      blockMs: 1_000,
    });
    const writer = new RedisNotificationLog({ client: direct, keyPrefix: `${ns.keyPrefix}log:` });
    const stop = new AbortController();
    const seen = new Arrivals<number>();
    const following = log.follow(
      '0-0',
      (entries) => {
        for (const entry of entries) seen.push((entry.notification.params as { x: number }).x);
      },
      stop.signal,
    );
    try {
      await writer.append(at(1));
      await seen.atLeast(1, 'the entry appended before the stall'); // the follower is reading
      proxy.stall('open');
      for (const x of [2, 3, 4]) await writer.append(at(x));
      // Its blocking read silent: replaced as the subscription's connection is, plus one block.
      const entries = await seen.atLeast(
        4,
        `the 3 entries appended while its connection was dead, within ${RECOVERY_MS + 1_000} ms`,
        RECOVERY_MS + 1_000,
      );
      expect(entries).toEqual([1, 2, 3, 4]);
    } finally {
      stop.abort();
      await following;
      await log.close();
      await writer.close();
    }
  }, 15_000);
});
