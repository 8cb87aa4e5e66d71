import { StallingProxy, testNamespace } from '@causeway/testkit';
import { type Delivery } from '../src';
import {
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  type RedisStreamsSubscriberOptions,
  StreamKeys,
  redisConnection,
} from '../src/redis';
import { conformanceMessage, conformanceSerializer } from '../src/testing';

// A consumer cut off from Redis (the proxy stalls its connections) for longer than its lease:
// its partition goes to another consumer, and its connections are replaced (silence timeout)
// with requests unanswered. ioredis keeps such a request and writes it again once a connection
// is ready — however long that takes.
// - A read: until session 45 it went out so when the path healed, naming streams whose lease
//   had lapsed long before: it took with '>' the entries the partition's new owner had not read
//   yet, which then stayed pending at the cut-off consumer (the new owner adopts pending entries
//   only when it takes a partition over) while the new owner went on with later messages of
//   their keys.
// - A failed entry's redelivery claim (XCLAIM, min-idle 0): it took the entry from the new
//   owner, which was running it, and the cut-off consumer ran it too, beside it.
describe('redis-streams consumer cut off past its lease', () => {
  const ns = testNamespace('streamsresend');
  const serializer = conformanceSerializer();
  const layout = { keyPrefix: ns.keyPrefix, partitions: 1, priorities: false };
  const direct = redisConnection({ url: ns.redisUrl });
  let proxy: StallingProxy;
  let viaProxy: ReturnType<typeof redisConnection>;
  /** Through the proxy too, without a command timeout (redisConnection's default). */
  let viaProxyUntimed: ReturnType<typeof redisConnection>;

  beforeAll(async () => {
    const inFront = await StallingProxy.inFrontOf(ns.redisUrl, 6379);
    proxy = inFront.proxy;
    viaProxy = redisConnection({
      url: inFront.url,
      commandTimeoutMs: 500,
      silenceTimeoutMs: 1_000,
      maxReconnectDelayMs: 50,
      // Its duplicates too: the test finds their commands in CLIENT LIST.
      options: { connectionName: `${ns.keyPrefix}cut-off` },
    });
    viaProxyUntimed = redisConnection({
      url: inFront.url,
      silenceTimeoutMs: 1_000,
      maxReconnectDelayMs: 50,
    });
    await Promise.all([direct.open(), viaProxy.open(), viaProxyUntimed.open()]);
  });
  afterAll(async () => {
    proxy.heal();
    const stale = await direct.client.keys(`${ns.keyPrefix}*`);
    if (stale.length > 0) await direct.client.del(...stale);
    await Promise.all([direct.close(), viaProxy.close(), viaProxyUntimed.close()]);
    await proxy.close();
  });

  const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;
  /**
   * A publisher, the consumer to be cut off (its connections through the proxy: `viaProxy`
   * unless told) and the one that takes its partition over (direct), on one timing.
   */
  const consumers = (
    timing: Partial<RedisStreamsSubscriberOptions>,
    { cutOffVia = viaProxy, owner = {} as Partial<RedisStreamsSubscriberOptions> } = {},
  ) => ({
    publisher: new RedisStreamsPublisher({ ...layout, client: direct.client, serializer }),
    cutOff: new RedisStreamsSubscriber({
      ...layout,
      ...timing,
      client: cutOffVia.client,
      serializer,
    }),
    owner: new RedisStreamsSubscriber({
      ...layout,
      ...timing,
      ...owner,
      client: direct.client,
      serializer,
    }),
  });

  it('does not send its read again once the path heals: the new owner handles every message, per key in order', async () => {
    const { publisher, cutOff, owner } = consumers(
      { blockMs: 1_000, heartbeatMs: 100, leaseTtlMs: 1_000, claimIdleMs: 500 },
      { owner: { prefetch: 1 } },
    );
    const handled: number[] = [];
    const until = async (check: () => boolean | Promise<boolean>, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!(await check())) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; handled: ${handled.join(',')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const lease = new StreamKeys(layout).lease('resend', 'g', 0);
    try {
      // 'z' owns the only partition (alone in the group), and waits in a read.
      await cutOff.subscribe(['resend'], { group: 'g', consumer: 'z' }, async (d) => {
        handled.push(n(d));
      });
      expect(await direct.client.get(lease)).toMatch(/^z#/);
      const blockedRead = async () =>
        String(await direct.client.client('LIST'))
          .split('\n')
          .some(
            (line) =>
              line.includes(` name=${ns.keyPrefix}cut-off `) && line.includes(' cmd=xreadgroup'),
          );
      await until(blockedRead, 'the read of z');
      proxy.stall('all');
      // 'b' (sorted first) gets the partition once the lease of 'z' lapsed, and holds one entry
      // at a time (prefetch 1): the rest of a backlog waits unread in Redis.
      await owner.subscribe(
        ['resend'],
        { group: 'g', consumer: 'b', maxInFlight: 1 },
        async (d) => {
          handled.push(n(d));
          await new Promise((resolve) => setTimeout(resolve, 50));
        },
      );
      await until(async () => /^b#/.test((await direct.client.get(lease)) ?? ''), "b's lease");
      // The reader of 'z' was replaced meanwhile (its BLOCK and the silence timeout passed).
      const accepted = proxy.accepted;
      await until(() => proxy.accepted >= accepted + 2, 'the connections of z replaced');
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await publisher.publish(
        'resend',
        Array.from({ length: 20 }, (_, i) => conformanceMessage(i, 'k')),
      );
      await until(() => handled.length >= 1, 'the first of the backlog');
      proxy.heal();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await publisher.publish('resend', [conformanceMessage(20, 'k'), conformanceMessage(21, 'k')]);
      await until(() => handled.length >= 22, 'every message');
      expect(handled).toEqual(Array.from({ length: 22 }, (_, i) => i));
    } finally {
      proxy.heal();
      await Promise.allSettled([cutOff.close(), owner.close()]);
    }
  }, 60_000);

  it("runs no entry whose redelivery claim replied after its lease lapsed: the new owner's keys never run twice at once", async () => {
    const { publisher, cutOff, owner } = consumers(
      {
        blockMs: 1_000,
        heartbeatMs: 100,
        leaseTtlMs: 1_000,
        claimIdleMs: 500,
        redeliveryDelayMs: 300,
      },
      { cutOffVia: viaProxyUntimed },
    );
    const runs: string[] = [];
    let running = 0;
    let overlaps = 0;
    let healedAt: number | undefined;
    const until = async (check: () => boolean | Promise<boolean>, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!(await check())) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; runs: ${runs.join(',')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const lease = new StreamKeys(layout).lease('claim', 'g', 0);
    const run = (by: string) => async (d: Delivery) => {
      runs.push(`${by}:${n(d)}@${d.attempt}`);
      if (running > 0) overlaps++;
      running++;
      try {
        if (by === 'z' && d.attempt === 1) {
          // Cut off as the handler fails: its redelivery claim goes out into the stalled path.
          proxy.stall('all');
          throw new Error('transient');
        }
        // The new owner holds the first message until well after the path healed.
        if (by === 'b' && n(d) === 0)
          await until(() => healedAt !== undefined && Date.now() > healedAt + 1_500, 'time');
      } finally {
        running--;
      }
    };
    try {
      await cutOff.subscribe(['claim'], { group: 'g', consumer: 'z', maxInFlight: 1 }, run('z'));
      expect(await direct.client.get(lease)).toMatch(/^z#/);
      await publisher.publish(
        'claim',
        [0, 1, 2].map((i) => conformanceMessage(i, 'k')),
      );
      await until(() => runs.includes('z:0@1'), 'the failed first delivery');
      // 'b' takes the partition over once the lease of 'z' lapsed, adopts what 'z' left
      // pending (idle claimIdleMs) and runs it.
      await owner.subscribe(['claim'], { group: 'g', consumer: 'b', maxInFlight: 1 }, run('b'));
      await until(async () => /^b#/.test((await direct.client.get(lease)) ?? ''), "b's lease");
      await until(() => runs.some((r) => r.startsWith('b:0@')), 'the first message at b');
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // z's connections replaced
      healedAt = Date.now();
      proxy.heal();
      await until(() => runs.filter((r) => r.startsWith('b:')).length >= 3, 'the rest at b');
      await new Promise((resolve) => setTimeout(resolve, 500)); // nothing more runs
      expect({ overlaps, runs: runs.filter((r) => !r.startsWith('b:')) }).toEqual({
        overlaps: 0,
        runs: ['z:0@1'],
      });
    } finally {
      proxy.heal();
      await Promise.allSettled([cutOff.close(), owner.close()]);
    }
  }, 60_000);

  // A handler runs on at a consumer cut off past its lease (the path died, Redis is fine). The
  // new owner claims what the cut-off one left pending once idle claimIdleMs, counted from the
  // last delivery — the read: an entry that had waited, read ahead, behind its key was taken
  // and run beside its handler at once, though every handler ran shorter than claimIdleMs.
  it('takes over a running entry only claimIdleMs after its last heartbeat, not after its read: never beside its handler', async () => {
    const { publisher, cutOff, owner } = consumers({
      blockMs: 1_000,
      heartbeatMs: 100,
      leaseTtlMs: 1_000,
      claimIdleMs: 2_000,
    });
    const runs: { by: string; n: number; start: number; end: number }[] = [];
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const handler = (by: string) => async (d: Delivery) => {
      const run = { by, n: n(d), start: Date.now(), end: 0 };
      runs.push(run);
      // Both shorter than claimIdleMs (2 s), as its documentation asks.
      await new Promise((resolve) => setTimeout(resolve, run.n === 1 ? 1_300 : 1_700));
      run.end = Date.now();
    };
    try {
      await cutOff.subscribe(
        ['running'],
        { group: 'g', consumer: 'z', maxInFlight: 4 },
        handler('z'),
      );
      // One key: 2 is read with 1 and waits behind it, idle in Redis since that read.
      await publisher.publish('running', [conformanceMessage(1, 'k'), conformanceMessage(2, 'k')]);
      await until(() => runs.some((run) => run.n === 2), 'the second delivery at z');
      await new Promise((resolve) => setTimeout(resolve, 250)); // a heartbeat or two meanwhile
      proxy.stall('all');
      // 'b' takes the partition once the lease of 'z' lapsed (1 s later), and adopts what is
      // pending once idle claimIdleMs.
      await owner.subscribe(['running'], { group: 'g', consumer: 'b' }, handler('b'));
      await until(() => runs.some((run) => run.by === 'b' && run.n === 2), 'the entry at b');
      const [cut, again] = runs.filter((run) => run.n === 2);
      expect([cut!.by, again!.by]).toEqual(['z', 'b']);
      expect(again!.start).toBeGreaterThanOrEqual(cut!.end);
    } finally {
      proxy.heal();
      await Promise.allSettled([cutOff.close(), owner.close()]);
    }
  }, 60_000);
});
