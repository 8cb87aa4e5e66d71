import {
  InMemoryGroupMembers,
  InMemoryTrainerPositions,
  RedisNotificationLog,
} from '@causeway/platform';
import { testNotification } from '@causeway/platform/testing';
import { testNamespace } from '@causeway/testkit';
import { namespaceRedis } from './namespace-redis.fixture';
import { until } from './sse.client';
import { Registry } from 'prom-client';
import { DEFAULT_GATEWAY_SETTINGS } from '../src/gateway/gateway.settings';
import { SseHub } from '../src/sse/sse.hub';
import { SseMetrics } from '../src/sse/sse.metrics';
import { TestSink } from '../src/testing/sse.test-sink';

// A resume against the notification log in a real Redis that lost its data meanwhile (no
// persistence and a restart, a failover to an empty replica, FLUSHALL).
describe('SseHub resuming on a Redis notification log that lost its entries', () => {
  const ns = testNamespace('resume');
  const redis = namespaceRedis(ns);
  let hub: SseHub | undefined;

  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
  });

  it('sends recovery, not an empty replay, to a client whose missed entries are gone', async () => {
    const keyPrefix = `${ns.keyPrefix}emptied:`;
    const log = new RedisNotificationLog({ client: redis, keyPrefix, blockMs: 200 });
    const positions = new InMemoryTrainerPositions();
    await positions.apply({
      trainerId: 'gary',
      x: 7,
      y: 0,
      isMoving: false,
      dirX: 0,
      dirY: 0,
      speed: 0,
      startedAt: 0,
      version: 2,
      updatedAt: Date.now(),
    });
    hub = new SseHub({
      serverId: 'gw-1',
      log,
      positions,
      groups: new InMemoryGroupMembers(),
      settings: DEFAULT_GATEWAY_SETTINGS,
      metrics: new SseMetrics(new Registry()),
    });
    await hub.start();
    const open = async (lastEventId?: string) => {
      const sink = new TestSink();
      const admission = hub!.admit('ash');
      if (!admission.ok) throw new Error(admission.detail);
      await hub!.open({ userId: 'ash', trainerIds: [] }, sink, { lastEventId });
      return sink;
    };
    const toAsh = (n: number) =>
      testNotification({ targetType: 'user', targetIds: ['ash'], params: { n } });

    const first = await open();
    await log.append(toAsh(1));
    await until(() => first.notifications().length === 2, 'the first notification');
    const lastSeen = first.notifications()[1]!.id!;
    // ash goes away; a notification for him is dispatched meanwhile, then Redis loses the log.
    await log.append(toAsh(2));
    await until(() => first.notifications().length === 3, 'the notification ash misses');
    expect(await redis.del(`${keyPrefix}notifications`)).toBe(1);

    const resumed = await open(lastSeen);
    const [session, frame] = resumed.notifications();
    expect(session).toMatchObject({ method: 'session', params: { resumed: 'recovery' } });
    expect(frame?.method).toBe('recovery');
    expect(frame?.params?.reason).toBe('trimmed');
    expect(frame?.params?.positions).toEqual([expect.objectContaining({ trainerId: 'gary' })]);
  });
});
