import { type Notification } from '@causeway/contracts';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
  PositionNotifier,
  type LoggedNotification,
  type NotificationLog,
} from '@causeway/platform';
import { testNotification } from '@causeway/platform/testing';
import { Registry } from 'prom-client';
import { DEFAULT_GATEWAY_SETTINGS, type GatewaySettings } from '../gateway/gateway.settings';
import { type ParsedFrame, TestSink } from '../testing/sse.test-sink';
import { notificationFrame } from './sse.frames';
import { REVOKED_REASON, SseHub, type SseHubOptions } from './sse.hub';
import { SseMetrics } from './sse.metrics';
import { type StreamView } from './stream.view';

const hubs: SseHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.stop()));
});

async function until<T>(
  probe: () => T | undefined | false,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A log this hub's follower reads only once `release` is called (a loaded gateway). */
function laggingLog() {
  const inner = new InMemoryNotificationLog();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const log: NotificationLog = Object.create(inner) as NotificationLog;
  log.follow = (afterId, onEntries, signal, onRead) =>
    inner.follow(
      afterId,
      async (entries) => {
        await released;
        await onEntries(entries);
      },
      signal,
      onRead,
    );
  return { log, inner, release };
}

/** `promise`, or a rejection saying that `what` did not happen within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function setup(
  options: {
    settings?: Partial<GatewaySettings>;
    log?: NotificationLog;
    now?: () => number;
    serverTime?: () => number;
    serverTimeReady?: () => boolean;
    logger?: SseHubOptions['logger'];
  } = {},
) {
  const log = options.log ?? new InMemoryNotificationLog();
  const positions = new InMemoryTrainerPositions();
  const groups = new InMemoryGroupMembers();
  const registry = new Registry();
  const metrics = new SseMetrics(registry);
  const hub = new SseHub({
    serverId: 'gw-1',
    log,
    positions,
    groups,
    settings: { ...DEFAULT_GATEWAY_SETTINGS, ...options.settings },
    metrics,
    now: options.now,
    serverTime: options.serverTime,
    serverTimeReady: options.serverTimeReady,
    logger: options.logger,
  });
  hubs.push(hub);
  await hub.start();
  const open = async (
    userId: string,
    lastEventId?: string,
    trainerIds: string[] = [],
    expiresAt?: number,
  ) => {
    const sink = new TestSink();
    const admission = hub.admit(userId);
    if (!admission.ok) throw new Error(admission.detail);
    await hub.open({ userId, trainerIds, expiresAt }, sink, { lastEventId });
    return sink;
  };
  const toUser = (userId: string, params: Record<string, unknown> = {}) =>
    testNotification({ targetType: 'user', targetIds: [userId], method: 'command.result', params });
  const metric = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values.map((v) => ({
      labels: v.labels,
      value: v.value,
    }));
  return { hub, log, positions, groups, open, toUser, metric };
}

const params = (sink: TestSink, method?: string) =>
  sink.notifications(method).map((frame) => frame.params);

describe('SseHub', () => {
  describe('addressing', () => {
    it('starts every stream with a session frame whose id is the position it starts from', async () => {
      const { log, open } = await setup();
      const before = await log.append(testNotification());
      const ash = await open('ash');
      const [session] = ash.frames();
      expect(session).toMatchObject({
        id: before,
        method: 'session',
        retry: DEFAULT_GATEWAY_SETTINGS.retryMs,
        params: { serverId: 'gw-1', resumed: 'new', replayed: 0 },
      });
      expect(session?.params?.connectionId).toEqual(expect.any(String));
    });

    it("delivers a user's, their groups' and broadcast notifications, never someone else's", async () => {
      const { log, open, toUser } = await setup();
      const ash = await open('ash');
      const misty = await open('misty');
      await log.append(toUser('ash', { n: 1 }));
      await log.append(toUser('misty', { n: 2 }));
      await log.append(
        testNotification({
          targetType: 'group',
          targetIds: ['kanto'],
          recipients: ['ash', 'brock'],
          params: { n: 3 },
        }),
      );
      await log.append(testNotification({ targetType: 'broadcast', params: { n: 4 } }));
      await until(() => misty.notifications().length === 3, 'misty to get her frames');
      await until(() => ash.notifications().length === 4, 'ash to get his frames');
      expect(params(ash).slice(1)).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
      expect(params(misty).slice(1)).toEqual([{ n: 2 }, { n: 4 }]);
      // Each frame carries its log id, in log order.
      const ids = ash
        .notifications()
        .slice(1)
        .map((frame) => frame.id!);
      expect([...ids].sort((a, b) => log.compare(a, b))).toEqual(ids);
    });

    it('writes notifications read together to a connection in one write, in log order', async () => {
      const { log, open, toUser } = await setup();
      const ash = await open('ash');
      const misty = await open('misty');
      const writes = { ash: ash.writes, misty: misty.writes };
      // Appended in one tick: the follower reads the three as one batch.
      const appended = [
        log.append(testNotification({ targetType: 'broadcast', params: { n: 1 } })),
        log.append(toUser('ash', { n: 2 })),
        log.append(testNotification({ targetType: 'broadcast', params: { n: 3 } })),
      ];
      const ids = await Promise.all(appended);
      await until(() => ash.notifications().length === 4, 'ash to get his frames');
      await until(() => misty.notifications().length === 3, 'misty to get hers');
      expect(params(ash).slice(1)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      expect(params(misty).slice(1)).toEqual([{ n: 1 }, { n: 3 }]);
      expect(
        ash
          .notifications()
          .slice(1)
          .map((frame) => frame.id),
      ).toEqual(ids);
      expect(ash.writes - writes.ash).toBe(1);
      expect(misty.writes - writes.misty).toBe(1);
    });

    it('reaches every connection of a user exactly once, even if targeted twice', async () => {
      const { log, open, toUser } = await setup();
      const first = await open('ash');
      const second = await open('ash');
      await log.append({ ...toUser('ash', { n: 1 }), targetIds: ['ash', 'ash'] });
      await log.append(
        testNotification({ targetType: 'group', recipients: ['ash', 'ash'], params: { n: 2 } }),
      );
      await log.append(toUser('ash', { n: 3 }));
      for (const sink of [first, second]) {
        await until(() => sink.notifications().length === 4, 'the frames');
        expect(params(sink).slice(1)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      }
    });

    it('reaches a user through the trainers their token lets them move, once, live and on resume', async () => {
      const { log, open, toUser } = await setup();
      // trainerboss may move onix and geodude; gary may move none.
      const boss = await open('trainerboss', undefined, ['onix', 'geodude']);
      const gary = await open('gary');
      const session = boss.notifications('session')[0]!.id!;
      const group = (recipients: string[], n: number) =>
        testNotification({ targetType: 'group', targetIds: ['rock'], recipients, params: { n } });
      await log.append(group(['onix', 'misty'], 1));
      await log.append(group(['onix', 'geodude', 'trainerboss'], 2)); // three ways in: once
      await log.append(group(['misty'], 3));
      await log.append(toUser('onix', { n: 4 })); // the user onix's, not a group's
      await log.append(group(['gary'], 5));
      await until(() => gary.notifications().length === 2, 'gary to get his frame');
      await until(() => boss.notifications().length === 3, 'trainerboss to get his frames');
      expect(params(boss).slice(1)).toEqual([{ n: 1 }, { n: 2 }]);
      // A resume replays the same ones.
      const resumed = await open('trainerboss', session, ['onix', 'geodude']);
      await until(() => resumed.notifications().length === 3, 'the replay');
      expect(params(resumed).slice(1)).toEqual([{ n: 1 }, { n: 2 }]);
    });

    it('stops writing to a connection once the client hangs up', async () => {
      const { hub, log, open, toUser } = await setup();
      const ash = await open('ash');
      ash.hangUp();
      expect(hub.size).toBe(0);
      await log.append(toUser('ash'));
      const other = await open('misty');
      await log.append(toUser('misty'));
      await until(() => other.notifications().length === 2, 'misty');
      expect(ash.notifications()).toHaveLength(1);
    });
  });

  describe('resume', () => {
    it('replays every missed notification of the user in order, then goes live', async () => {
      const { log, open, toUser, metric } = await setup();
      const first = await open('ash');
      await log.append(toUser('ash', { n: 1 }));
      await until(() => first.notifications().length === 2, 'the first frame');
      const lastId = first.notifications()[1]!.id!;
      first.hangUp();
      for (let n = 2; n <= 6; n++) {
        await log.append(toUser('ash', { n }));
        await log.append(toUser('misty', { n: -n }));
      }
      const resumed = await open('ash', lastId);
      expect(resumed.frames()[0]).toMatchObject({
        id: lastId,
        method: 'session',
        params: { resumed: 'replayed', replayed: 5 },
      });
      await log.append(toUser('ash', { n: 7 }));
      await until(() => resumed.notifications().length === 7, 'the live frame');
      expect(params(resumed).slice(1)).toEqual([2, 3, 4, 5, 6, 7].map((n) => ({ n })));
      expect(await metric('causeway_sse_streams_total')).toEqual(
        expect.arrayContaining([
          { labels: { outcome: 'new' }, value: 1 },
          { labels: { outcome: 'replayed' }, value: 1 },
        ]),
      );
    });

    it('moves a resumed stream on to the end of the gap it replayed, so that its next reconnect does not read it again', async () => {
      // The replay's frames carry the ids of the client's own entries only: its resume point
      // stayed before the entries for others at the end of the gap until the next heartbeat
      // (30 s). Cut within that window, its reconnect read the gap again, and the log having
      // gone on meanwhile, past HISTORY_SCAN_LIMIT: a recovery for a client that missed nothing.
      const { hub, log, open, toUser } = await setup({ settings: { historyScanLimit: 5 } });
      const first = await open('ash');
      const from = first.notifications('session')[0]!.id!;
      first.hangUp();
      await log.append(toUser('ash', { n: 1 }));
      let end = '';
      for (let i = 0; i < 3; i++) end = await log.append(toUser('misty', { i }));
      await hub.caughtUp();
      const resumed = await open('ash', from);
      expect(params(resumed).slice(1)).toEqual([{ n: 1 }]);
      // The log goes on, with nothing for ash; the stream is cut before its next heartbeat.
      for (let i = 3; i < 6; i++) await log.append(toUser('misty', { i }));
      await hub.caughtUp();
      resumed.hangUp();
      // Where an EventSource resumes from: the id of the last frame that carried one.
      const resumeFrom = resumed
        .frames()
        .filter((frame) => frame.id !== undefined)
        .at(-1)!.id!;
      const again = await open('ash', resumeFrom);
      expect(again.notifications('session')[0]?.params).toMatchObject({
        resumed: 'replayed',
        replayed: 0,
      });
      expect(resumeFrom).toBe(end);
    });

    it('loses and duplicates nothing when notifications arrive while the replay is read', async () => {
      const inner = new InMemoryNotificationLog();
      let during: (() => Promise<void>) | undefined;
      // The log as the hub sees it; appends happen in the middle of the replay's reads.
      const log: NotificationLog = Object.assign(Object.create(inner) as NotificationLog, {
        read: async (after: string | undefined, limit: number): Promise<LoggedNotification[]> => {
          const page = await inner.read(after, limit);
          const hook = during;
          during = undefined;
          await hook?.();
          return page;
        },
      });
      const { open, toUser } = await setup({ log });
      const ids: string[] = [];
      for (let n = 1; n <= 3; n++) ids.push(await inner.append(toUser('ash', { n })));
      during = async () => {
        for (let n = 4; n <= 6; n++) await inner.append(toUser('ash', { n }));
      };
      const resumed = await open('ash', ids[0]);
      for (let n = 7; n <= 8; n++) await inner.append(toUser('ash', { n }));
      await until(() => resumed.notifications().length === 8, 'every frame');
      expect(params(resumed).slice(1)).toEqual([2, 3, 4, 5, 6, 7, 8].map((n) => ({ n })));
    });

    it('resumes from the session id of an empty log by replay of everything logged since', async () => {
      const { log, open, toUser } = await setup();
      const first = await open('ash');
      const start = first.frames()[0]!.id!;
      first.hangUp();
      // What the client missed while away: a command.result of its own, and someone else's.
      const missed = await log.append(toUser('ash', { n: 1 }));
      await log.append(toUser('misty', { n: -1 }));
      await log.append(toUser('ash', { n: 2 }));
      const resumed = await open('ash', start);
      expect(resumed.frames()[0]).toMatchObject({
        id: start,
        method: 'session',
        params: { resumed: 'replayed', replayed: 2 },
      });
      expect(resumed.notifications()[1]?.id).toBe(missed);
      await log.append(toUser('ash', { n: 3 }));
      await until(() => resumed.notifications().length === 4, 'the live frame');
      expect(params(resumed).slice(1)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    });

    it('resumes from the session id of an empty log that is still empty with nothing to replay', async () => {
      const { open } = await setup();
      const first = await open('ash');
      const start = first.frames()[0]!.id!;
      const resumed = await open('ash', start);
      expect(resumed.frames()[0]).toMatchObject({
        id: start,
        method: 'session',
        params: { resumed: 'replayed', replayed: 0 },
      });
    });

    const recovery = async (
      reason: string,
      prepare: (context: Awaited<ReturnType<typeof setup>>) => Promise<string>,
      options: Parameters<typeof setup>[0] = {},
    ) => {
      const context = await setup(options);
      await context.positions.apply(row('ash', 1));
      await context.positions.apply(row('gary', 2));
      await context.positions.apply(row('misty', 3));
      await context.positions.apply(row('brock', 4));
      await context.groups.apply({
        trainerId: 'ash',
        groupId: 'kanto',
        action: 'join',
        version: 1,
      });
      await context.groups.apply({
        trainerId: 'misty',
        groupId: 'kanto',
        action: 'join',
        version: 1,
      });
      await context.groups.apply({
        trainerId: 'brock',
        groupId: 'johto',
        action: 'join',
        version: 1,
      });
      const lastId = await prepare(context);
      const sink = await context.open('ash', lastId);
      const [session, frame] = sink.notifications();
      expect(session).toMatchObject({
        method: 'session',
        params: { resumed: 'recovery', replayed: 0 },
      });
      // The session frame repeats the client's id: only the recovery frame, the state as of the
      // hub's position, moves it there (a stream cut between the two is recovered again).
      expect(session?.id).toBe(lastId);
      expect(frame?.method).toBe('recovery');
      expect(frame?.id).toBe(await context.log.latestId());
      expect(frame?.params?.reason).toBe(reason);
      // In no group (gary), in ash's group (misty), ash himself; not brock of another group.
      expect((frame?.params?.positions as { trainerId: string }[]).map((p) => p.trainerId)).toEqual(
        ['ash', 'gary', 'misty'],
      );
      // Then live.
      await context.log.append(context.toUser('ash', { live: true }));
      await until(() => sink.notifications().length === 3, 'the live frame');
    };

    it('recovers with the trainers that moved within POSITIONS_MAX_AGE_MS by the server clock', async () => {
      // The server's clock, 2 h ahead of this host's: gary moved 30 min ago by it, red 2.5 h ago
      // (30 min ago by this host's clock, which must not be the one used).
      const serverNow = MOVED_AT + 2 * 3_600_000;
      const context = await setup({
        settings: { positionsMaxAgeMs: 3_600_000 },
        serverTime: () => serverNow,
      });
      await context.positions.apply({ ...row('gary', 1), updatedAt: serverNow - 1_800_000 });
      await context.positions.apply({ ...row('red', 2), updatedAt: serverNow - 2.5 * 3_600_000 });
      const sink = await context.open('ash', '9999999999999-0');
      const [, frame] = sink.notifications();
      expect(frame?.method).toBe('recovery');
      expect((frame?.params?.positions as { trainerId: string }[]).map((p) => p.trainerId)).toEqual(
        ['gary'],
      );
    });

    it('sends recovery when the id is older than the retained log', () =>
      recovery(
        'trimmed',
        async ({ log, toUser }) => {
          const old = await log.append(toUser('ash'));
          for (let i = 0; i < 5; i++) await log.append(toUser('misty'));
          expect(await log.oldestId()).not.toBe(old);
          return old;
        },
        { log: new InMemoryNotificationLog({ maxLength: 3 }) },
      ));

    it('recovers a move the log has told of before the read model applied it', async () => {
      const { log, positions, groups, open, toUser } = await setup({
        log: new InMemoryNotificationLog({ maxLength: 3 }),
      });
      await positions.apply(row('ash', 1));
      await positions.apply({ ...row('misty', 3), version: 3 });
      const lastId = await log.append(toUser('ash'));
      // trainer-service notifies misty's 4th move at once; projection-worker has not applied it.
      const notifier = new PositionNotifier(groups, log, 'trainer-1');
      const movement = { isMoving: true, direction: { x: 0, y: 1 }, speed: 5, startedAt: 1_700 };
      const data = { trainerId: 'misty', position: { x: 9, y: 0 }, movement, timestamp: 1_700 };
      const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
      await notifier.notify({ messageId: 'e3', version: 3, data: { ...data, movement: still } });
      const audience = (await notifier.audienceOf('misty', []))!;
      expect(
        await notifier.notifyEarly('e4', data, audience, { version: 4, previous: 3 }),
      ).toBeDefined();
      for (let i = 0; i < 3; i++) await log.append(toUser('gary'));
      const sink = await open('ash', lastId);
      const frame = sink.notifications()[1];
      expect(frame?.method).toBe('recovery');
      expect(frame?.params?.positions).toEqual([
        row('ash', 1),
        {
          ...row('misty', 9),
          isMoving: true,
          dirY: 1,
          speed: 5,
          startedAt: 1_700,
          version: 4,
          updatedAt: expect.any(Number),
        },
      ]);
    });

    it("sends recovery from the session id of an empty log once the log's first entry is trimmed", () =>
      recovery(
        'trimmed',
        async ({ hub, log, toUser }) => {
          const start = await sessionOfEmptyLog(hub);
          for (let i = 0; i < 5; i++) await log.append(toUser('misty'));
          await hub.caughtUp();
          return start;
        },
        { log: new InMemoryNotificationLog({ maxLength: 3 }) },
      ));

    it('sends recovery from the session id of an empty log once its first entry is older than HISTORY_TTL_MS', () => {
      let now = Date.now();
      return recovery(
        'expired',
        async ({ hub, log, toUser }) => {
          const start = await sessionOfEmptyLog(hub);
          await log.append(toUser('ash'));
          now += 61_000;
          return start;
        },
        { settings: { historyTtlMs: 60_000 }, now: () => now },
      );
    });

    it("sends recovery from the log's start to a hub that never saw the log empty", async () => {
      // Whether entries before the oldest one were trimmed is unknown: the client may miss some.
      const log = new InMemoryNotificationLog();
      await log.append(testNotification());
      await recovery('trimmed', async () => '0-0', { log });
    });

    it('sends recovery when a notification the client missed is older than HISTORY_TTL_MS', () => {
      let now = Date.now();
      return recovery(
        'expired',
        async ({ log, toUser }) => {
          const id = await log.append(toUser('ash'));
          await log.append(toUser('misty'));
          await log.append(toUser('ash', { missed: true }));
          now += 61_000;
          return id;
        },
        { settings: { historyTtlMs: 60_000 }, now: () => now },
      );
    });

    it("measures the history's age by the server's clock, not this host's (session 30)", async () => {
      // This host's clock runs 65 s ahead of Redis' (the ids' clock); HISTORY_TTL_MS is 60 s.
      const { log, open, toUser } = await setup({
        settings: { historyTtlMs: 60_000 },
        now: () => Date.now() + 65_000,
        serverTime: () => Date.now(),
      });
      const first = await open('ash');
      const session = first.frames()[0]!.id!;
      await log.append(toUser('ash', { missed: 1 }));
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // a 1 s gap
      const resumed = await open('ash', session);
      expect(resumed.notifications()[0]?.params).toMatchObject({
        resumed: 'replayed',
        replayed: 1,
      });
      expect(params(resumed, 'command.result')).toEqual([{ missed: 1 }]);
    });

    it('replays nothing (not expired) to a client that missed nothing during a quiet period longer than HISTORY_TTL_MS', async () => {
      let now = Date.now();
      const { hub, log, open, toUser, metric } = await setup({
        settings: { historyTtlMs: 60_000 },
        now: () => now,
      });
      await log.append(toUser('ash'));
      const first = await open('ash');
      const session = first.frames()[0]!.id!;
      // The stream ends at its timeout; nothing was logged since (for ash or anyone).
      now += 300_000;
      const resumed = await open('ash', session);
      expect(resumed.frames()[0]).toMatchObject({
        id: session,
        method: 'session',
        params: { resumed: 'replayed', replayed: 0 },
      });
      // Nor when all the gap holds is for others, however old.
      await log.append(toUser('misty'));
      await hub.caughtUp();
      const other = await open('ash', session);
      expect(other.notifications()[0]?.params).toMatchObject({ resumed: 'replayed', replayed: 0 });
      expect(await metric('causeway_sse_streams_total')).toEqual(
        expect.not.arrayContaining([expect.objectContaining({ labels: { outcome: 'recovery' } })]),
      );
    });

    it('sends recovery when more than HISTORY_SIZE notifications were missed', () =>
      recovery(
        'too-many-missed',
        async ({ log, toUser }) => {
          const id = await log.append(toUser('ash'));
          for (let i = 0; i < 4; i++) await log.append(toUser('ash', { i }));
          // Notifications for others do not count.
          for (let i = 0; i < 10; i++) await log.append(toUser('misty', { i }));
          return id;
        },
        { settings: { historySize: 3 } },
      ));

    it('sends recovery (scan-limit) when the gap holds more than HISTORY_SCAN_LIMIT entries, whoever they are for', () =>
      recovery(
        'scan-limit',
        async ({ log, toUser }) => {
          const id = await log.append(toUser('ash'));
          // Nothing more for ash, but the whole gap would be read and filtered on every resume.
          for (let i = 0; i < 12; i++) await log.append(toUser('misty', { i }));
          return id;
        },
        { settings: { historyScanLimit: 10 } },
      ));

    it('replays a gap of exactly HISTORY_SCAN_LIMIT entries', async () => {
      const { log, open, toUser } = await setup({ settings: { historyScanLimit: 10 } });
      const id = await log.append(toUser('ash'));
      for (let i = 0; i < 9; i++) await log.append(toUser('misty', { i }));
      await log.append(toUser('ash', { last: true }));
      const sink = await open('ash', id);
      expect(sink.notifications()[0]?.params).toMatchObject({ resumed: 'replayed', replayed: 1 });
      expect(sink.notifications()[1]?.params).toMatchObject({ last: true });
    });

    it('replays up to HISTORY_SIZE missed notifications', async () => {
      const { log, open, toUser } = await setup({ settings: { historySize: 3 } });
      const id = await log.append(toUser('ash'));
      for (let i = 0; i < 3; i++) await log.append(toUser('ash', { i }));
      const sink = await open('ash', id);
      expect(sink.notifications()[0]?.params).toMatchObject({ resumed: 'replayed', replayed: 3 });
    });

    it('sends recovery for an id ahead of the log', () =>
      recovery('unknown-position', async ({ log, toUser }) => {
        await log.append(toUser('ash'));
        return `${Date.now() + 60_000}-0`;
      }));

    describe('on an instance whose follower lags the log', () => {
      /** ash's moves 1..3 after a first entry; the client had them all from a faster instance. */
      async function seenElsewhere(log: NotificationLog, settings: Partial<GatewaySettings> = {}) {
        const { hub, toUser, open } = await setup({ log, settings });
        const ids: string[] = [];
        for (let n = 1; n <= 3; n++) ids.push(await log.append(toUser('ash', { n })));
        // What the opener waits before a resume; the follower is further behind than that.
        await hub.caughtUp(20);
        return { hub, toUser, open, ids };
      }

      it('resumes from an id the log holds with an empty replay, and sends nothing up to it again', async () => {
        const { log, inner, release } = laggingLog();
        await inner.append(testNotification({ targetType: 'broadcast' }));
        const { toUser, open, ids } = await seenElsewhere(log);
        const sink = await open('ash', ids[2]);
        expect(sink.frames()[0]).toMatchObject({
          id: ids[2],
          method: 'session',
          params: { resumed: 'replayed', replayed: 0 },
        });
        release();
        const next = await log.append(toUser('ash', { n: 4 }));
        await until(() => sink.notifications('command.result').length > 0, 'the next move');
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(sink.notifications('command.result').map((f) => [f.id, f.params])).toEqual([
          [next, { n: 4 }],
        ]);
        expect(sink.notifications('recovery')).toEqual([]);
      });

      it('drops what it queued up to the id while the resume was planned', async () => {
        const { log, inner, release } = laggingLog();
        await inner.append(testNotification({ targetType: 'broadcast' }));
        const { toUser, open, ids } = await seenElsewhere(log);
        // The follower catches up while the resume reads the log: entries queue on the stream.
        // (planResume's read of where the log reached, for an id past what this hub dispatched)
        const lastAppendedId = inner.lastAppendedId.bind(inner);
        log.lastAppendedId = async () => {
          release();
          await new Promise((resolve) => setTimeout(resolve, 20));
          return lastAppendedId();
        };
        const sink = await open('ash', ids[1]);
        expect(sink.frames()[0]).toMatchObject({ id: ids[1], params: { resumed: 'replayed' } });
        const next = await log.append(toUser('ash', { n: 4 }));
        await until(() => sink.notifications('command.result').length >= 2, 'the moves after');
        expect(sink.notifications('command.result').map((f) => [f.id, f.params])).toEqual([
          [ids[2], { n: 3 }],
          [next, { n: 4 }],
        ]);
      });

      it("moves the resume point of a stream ahead of it only once it passes the client's id", async () => {
        const { log, inner, release } = laggingLog();
        await inner.append(testNotification({ targetType: 'broadcast' }));
        const { hub, toUser, ids } = await seenElsewhere(log, { heartbeatMs: 20 });
        const sink = new TestSink();
        await hub.open({ userId: 'ash', trainerIds: [] }, sink, {
          lastEventId: ids[2],
          heartbeat: 'event',
        });
        const beats = () => sink.frames().filter((frame) => frame.event === 'heartbeat');
        await until(() => beats().length >= 2, 'heartbeats while the hub lags');
        // Not back to the hub's position: the client had everything up to its own id.
        expect(beats().map((frame) => frame.id)).toEqual(beats().map(() => ids[2]));
        release();
        const next = await log.append(toUser('misty'));
        await until(() => beats().some((frame) => frame.id === next), 'a heartbeat past the id');
      });

      it('still sends recovery for an id beyond the log', async () => {
        const { log, inner, release } = laggingLog();
        await inner.append(testNotification({ targetType: 'broadcast' }));
        const { open } = await seenElsewhere(log);
        release();
        const sink = await open('ash', `${Date.now() + 60_000}-0`);
        expect(sink.notifications('recovery')[0]?.params).toMatchObject({
          reason: 'unknown-position',
        });
      });
    });

    it('recovers no grouped trainer to an outsider while the memberships are lost, and no groups', async () => {
      // Redis emptied: the rows say misty moved in kanto, GroupMembers has nothing yet.
      const { positions, open } = await setup();
      await positions.apply({ ...row('misty', 1), groups: ['kanto'] });
      await positions.apply(row('gary', 2));
      const recovered = async (userId: string) => {
        const sink = await open(userId, `${Date.now() + 60_000}-0`);
        const frame = sink.notifications('recovery')[0];
        return frame?.params?.positions as Record<string, unknown>[];
      };
      expect((await recovered('outsider')).map((p) => p.trainerId)).toEqual(['gary']);
      const own = await recovered('misty');
      expect(own.map((p) => p.trainerId)).toEqual(['gary', 'misty']);
      for (const position of own) expect(position).not.toHaveProperty('groups');
    });
  });

  // A follower that lagged by more than the log's retention went on after the entries the
  // trimming took as if there had been none: its streams missed them, unknowing (session 46).
  describe('when the log trimmed entries its follower had not read', () => {
    it('ends every stream with a retry hint; their resume is told the current state', async () => {
      const { log, open, toUser, metric } = await setup({
        log: new InMemoryNotificationLog({ maxLength: 3 }),
      });
      await log.append(toUser('ash', { n: 0 }));
      const ash = await open('ash');
      // Appended in one tick: the follower wakes to find that the trimming took most of them.
      await Promise.all(Array.from({ length: 10 }, (_, n) => log.append(toUser('ash', { n }))));
      await until(() => ash.ended, 'the stream to end');
      const last = ash.frames()[ash.frames().length - 1]!;
      expect(last.retry).toBeGreaterThanOrEqual(DEFAULT_GATEWAY_SETTINGS.retryMs);
      expect(params(ash, 'command.result')).toEqual([]);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'log-gap' }, value: 1 },
      ]);
      const resumed = await open('ash', last.id ?? ash.frames()[0]!.id);
      const [, recovery] = resumed.notifications();
      expect(recovery?.method).toBe('recovery');
      expect(recovery?.params?.reason).toBe('trimmed');
    });
  });

  // A throw while a batch was dispatched left the rest of it unsent (dropped by the follower with
  // the batch), the position short of it and the resumes waiting for it waiting (session 48).
  describe('when a notification of a batch cannot be sent', () => {
    /** Read as one batch: appended in one tick. */
    const appendTogether = (log: NotificationLog, notifications: Notification[]) =>
      Promise.all(notifications.map((notification) => log.append(notification)));
    const broadcast = (n: number) => testNotification({ targetType: 'broadcast', params: { n } });

    it('passes over a notification that cannot be encoded and sends the rest, live and on resume', async () => {
      const warnings: string[] = [];
      const { log, open, toUser } = await setup({
        logger: { log: () => undefined, warn: (message) => warnings.push(message) },
      });
      const ash = await open('ash');
      const misty = await open('misty');
      const session = ash.frames()[0]!.id!;
      // A BigInt has no JSON: the embedded log keeps the objects it is given.
      const ids = await appendTogether(log, [
        broadcast(1),
        toUser('ash', { n: BigInt(2) }),
        broadcast(3),
      ]);
      await until(() => ash.notifications().length === 3, "ash's frames");
      await until(() => misty.notifications().length === 3, "misty's frames");
      expect(params(ash).slice(1)).toEqual([{ n: 1 }, { n: 3 }]);
      expect(params(misty).slice(1)).toEqual([{ n: 1 }, { n: 3 }]);
      expect(warnings.filter((warning) => warning.includes(ids[1]!))).toHaveLength(1);
      // A resume across it replays the others, instead of failing (and its client retrying) for ever.
      const resumed = await open('ash', session);
      expect(resumed.notifications('session')[0]?.params).toMatchObject({ resumed: 'replayed' });
      expect(params(resumed).slice(1)).toEqual([{ n: 1 }, { n: 3 }]);
      await log.append(toUser('ash', { n: 4 }));
      await until(() => ash.notifications().length === 4, 'the next notification');
      await until(() => resumed.notifications().length === 4, 'the next notification, resumed');
    });

    it('tells a resume waiting for the follower that it caught up through that batch', async () => {
      const { log, inner, release } = laggingLog();
      const { hub, toUser, open } = await setup({ log });
      await open('ash');
      await appendTogether(inner, [toUser('ash', { n: BigInt(1) }), toUser('ash', { n: 2 })]);
      const caughtUp = hub.caughtUp(60_000);
      release();
      await within(caughtUp, 2_000, 'caughtUp');
    });

    it('ends a stream whose write throws with a retry hint at its last id; the others get the batch', async () => {
      const { log, open, metric } = await setup();
      const ash = await open('ash');
      const misty = await open('misty');
      const session = ash.frames()[0]!.id!;
      ash.failNextWrite = new Error('write refused');
      await appendTogether(log, [broadcast(1), broadcast(2), broadcast(3)]);
      await until(() => misty.notifications().length === 4, "misty's frames");
      await until(() => ash.ended, "ash's stream to end");
      const last = ash.frames().at(-1)!;
      expect(last).toEqual({ retry: DEFAULT_GATEWAY_SETTINGS.retryMs, id: session });
      expect(ash.notifications()).toHaveLength(1);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'error' }, value: 1 },
      ]);
      const resumed = await open('ash', last.id);
      expect(params(resumed).slice(1)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      await log.append(broadcast(4));
      await until(() => resumed.notifications().length === 5, 'the next notification, resumed');
      await until(() => misty.notifications().length === 5, 'the next notification');
    });

    // A write that threw in a timer's callback (heartbeat, expire, checkLog) was thrown out of it:
    // an uncaught exception, the gateway process down with every stream (session 48).
    it('ends a stream whose heartbeat write throws with a retry hint at its last id; the others keep theirs', async () => {
      const { open, metric } = await setup({ settings: { heartbeatMs: 20 } });
      const ash = await open('ash');
      const misty = await open('misty');
      const session = ash.frames()[0]!.id!;
      ash.failNextWrite = new Error('write refused');
      await until(() => ash.ended, "ash's stream to end");
      expect(ash.frames().at(-1)).toEqual({ retry: DEFAULT_GATEWAY_SETTINGS.retryMs, id: session });
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'error' }, value: 1 },
      ]);
      const beats = misty.frames().length;
      await until(() => misty.frames().length > beats + 1, "misty's next heartbeats");
      expect(
        misty
          .frames()
          .slice(1)
          .every((frame) => frame.comment),
      ).toBe(true);
    });

    it('destroys a stream whose timeout retry hint cannot be written, and ends the others', async () => {
      const { hub, open, metric } = await setup({
        settings: { heartbeatMs: 60_000, connectionTimeoutMs: 300 },
      });
      const ash = await open('ash');
      const misty = await open('misty');
      ash.failNextWrite = new Error('write refused');
      await until(() => misty.ended, "misty's timeout");
      expect(misty.frames().at(-1)).toEqual({
        retry: DEFAULT_GATEWAY_SETTINGS.retryMs,
        id: misty.frames()[0]!.id,
      });
      // Its client resumes from the last id it read.
      expect(ash.destroyed).toBe(true);
      expect(hub.size).toBe(0);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'error' }, value: 1 },
        { labels: { reason: 'timeout' }, value: 1 },
      ]);
    });

    it('destroys a stream whose log-unreachable retry hint cannot be written, and ends the others', async () => {
      const inner = new InMemoryNotificationLog();
      // A follower that never reads again.
      const log: NotificationLog = Object.create(inner) as NotificationLog;
      log.follow = (afterId, onEntries, signal) => inner.follow(afterId, onEntries, signal);
      let skew = 0;
      const { hub, open, metric } = await setup({
        log,
        settings: { heartbeatMs: 20 },
        now: () => Date.now() + skew,
      });
      const ash = await open('ash');
      const misty = await open('misty');
      ash.failNextWrite = new Error('write refused');
      skew = hub.logSilenceMs + 1;
      await until(() => misty.ended, "misty's end");
      expect(misty.frames().at(-1)).toMatchObject({ id: misty.frames()[0]!.id });
      expect(ash.destroyed).toBe(true);
      expect(hub.size).toBe(0);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'error' }, value: 1 },
        { labels: { reason: 'log-unreachable' }, value: 1 },
      ]);
    });
  });

  // open()'s answer to a stream a disconnect order ended and drop()'s destroy were not guarded:
  // a throw rejected open(), or left dispatch with the other slow streams kept (session 49).
  describe("when a stream's end or destroy throws", () => {
    it('destroys a stream checked before a disconnect order whose disconnected frame cannot be written; open resolves', async () => {
      const { hub, metric } = await setup();
      const checkedAt = Date.now();
      expect(hub.disconnect('ash', 'locked')).toBe(0);
      const late = new TestSink();
      late.failNextWrite = new Error('write refused');
      const opened = hub.open({ userId: 'ash', trainerIds: [] }, late, { checkedAt });
      await expect(opened).resolves.toMatchObject({ userId: 'ash', closed: true });
      // Not left open: its client reconnects (and is answered 204 while the order is recent).
      expect(late.destroyed).toBe(true);
      expect(hub.connectionsOf('ash')).toHaveLength(0);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'error' }, value: 1 },
      ]);
    });

    it('releases a slow stream whose destroy throws, and drops the other slow streams', async () => {
      const { hub, log, open, metric } = await setup({
        settings: { bufferMaxBytes: 4_096, maxConnectionsPerUser: 1 },
      });
      const ash = await open('ash');
      const brock = await open('brock');
      const misty = await open('misty');
      ash.stalled = true;
      brock.stalled = true;
      ash.failNextDestroy = new Error('destroy refused');
      await log.append(testNotification({ params: { big: 'x'.repeat(5_000) } }));
      // Both are found slow in the dispatch that wrote misty's frame.
      await until(() => misty.notifications().length === 2, "misty's frame");
      expect(brock.destroyed).toBe(true);
      // Destroyed all the same, and its room freed: ash may open a stream again.
      expect(ash.destroyed).toBe(true);
      expect(hub.size).toBe(1);
      expect(hub.admit('ash')).toEqual({ ok: true });
      expect(await metric('causeway_sse_slow_clients_dropped_total')).toEqual([
        { labels: {}, value: 2 },
      ]);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'error' }, value: 1 },
        { labels: { reason: 'slow' }, value: 1 },
      ]);
    });
  });

  // A new stream's session frame and what a (re)connect writes as it goes live (goLive) were
  // written outside open()'s guard: a throw rejected open() (session 49).
  describe("when a stream's first frames cannot be written", () => {
    it("ends a new stream whose session frame's write throws; open resolves", async () => {
      const { hub, metric } = await setup();
      const sink = new TestSink();
      sink.failNextWrite = new Error('write refused');
      const opened = hub.open({ userId: 'ash', trainerIds: [] }, sink, {});
      await expect(opened).resolves.toMatchObject({ userId: 'ash', closed: true });
      // Its client reconnects, as a new stream (it was given no id).
      expect(sink.ended).toBe(true);
      expect(sink.frames()).toEqual([{ retry: DEFAULT_GATEWAY_SETTINGS.retryMs }]);
      expect(hub.size).toBe(0);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'error' }, value: 1 },
      ]);
    });

    it('drops a new stream that cannot take its session frame', async () => {
      const { hub, metric } = await setup({ settings: { bufferMaxBytes: 16 } });
      const sink = new TestSink();
      sink.stalled = true;
      await hub.open({ userId: 'ash', trainerIds: [] }, sink, {});
      expect(sink.destroyed).toBe(true);
      expect(hub.size).toBe(0);
      expect(await metric('causeway_sse_slow_clients_dropped_total')).toEqual([
        { labels: {}, value: 1 },
      ]);
    });

    const view: StreamView = {
      accepts: () => true,
      frame: (id, notification) => notificationFrame(id, notification.method, notification.params),
      opening: (id) => Promise.resolve(notificationFrame(id, 'opening', {})),
    };
    it.each([
      ['GET /events', undefined],
      ['a view', view],
    ])(
      'ends a resumed stream (%s) whose write as it goes live throws; open resolves',
      async (_, streamView) => {
        const { hub, log, toUser, metric } = await setup();
        // Entries for another user only: the replay is empty, and going live writes the id
        // the client may resume from (the last entry dispatched).
        const from = await log.append(toUser('misty'));
        await log.append(toUser('misty'));
        await hub.caughtUp();
        const sink = new TestSink();
        const opened = hub.open({ userId: 'ash', trainerIds: [] }, sink, {
          lastEventId: from,
          view: streamView,
          // Called once the replay is written, before the stream goes live.
          resumed: () => (sink.failNextWrite = new Error('write refused')),
        });
        await expect(opened).resolves.toMatchObject({ userId: 'ash', closed: true });
        expect(sink.ended).toBe(true);
        expect(sink.frames().at(-1)).toMatchObject({ retry: DEFAULT_GATEWAY_SETTINGS.retryMs });
        expect(hub.size).toBe(0);
        expect(await metric('causeway_sse_closed_total')).toEqual([
          { labels: { reason: 'error' }, value: 1 },
        ]);
      },
    );
  });

  describe('limits', () => {
    it('refuses beyond MAX_CONNECTIONS with 503 and beyond the per-user limit with 429', async () => {
      const { hub, open } = await setup({
        settings: { maxConnections: 3, maxConnectionsPerUser: 2 },
      });
      await open('ash');
      await open('ash');
      expect(hub.admit('ash')).toMatchObject({ ok: false, status: 429, retryAfterSeconds: 5 });
      expect(hub.admit('misty')).toEqual({ ok: true });
      const misty = await open('misty');
      expect(hub.admit('brock')).toMatchObject({ ok: false, status: 503, retryAfterSeconds: 5 });
      misty.hangUp();
      expect(hub.admit('brock')).toEqual({ ok: true });
    });

    it("refuses streams with 503 clock-unsynchronised until the server's clock is read (session 30)", async () => {
      let synchronised = false;
      const { hub, open } = await setup({ serverTimeReady: () => synchronised });
      expect(hub.admit('ash')).toMatchObject({
        ok: false,
        status: 503,
        reason: 'clock-unsynchronised',
        retryAfterSeconds: 5,
      });
      synchronised = true;
      expect(hub.admit('ash')).toEqual({ ok: true });
      await open('ash');
    });

    it('drops a client that stops reading once BUFFER_MAX_BYTES are unwritten, and no other', async () => {
      const { hub, log, open, metric } = await setup({ settings: { bufferMaxBytes: 4_096 } });
      const slow = await open('ash');
      const fast = await open('misty');
      slow.stalled = true;
      const big = 'x'.repeat(1_000);
      for (let i = 0; i < 10; i++) await log.append(testNotification({ params: { big, i } }));
      await until(() => fast.notifications().length === 11, 'the fast client');
      await until(() => slow.destroyed, 'the slow client to be dropped');
      expect(slow.writableLength).toBeLessThan(4_096 + 2_000);
      expect(hub.connectionsOf('ash')).toHaveLength(0);
      expect(hub.connectionsOf('misty')).toHaveLength(1);
      expect(await metric('causeway_sse_slow_clients_dropped_total')).toEqual([
        { labels: {}, value: 1 },
      ]);
    });

    it('drops a client whose unwritten bytes have not emptied for STALL_TIMEOUT_MS, however few', async () => {
      const { hub, log, open, metric } = await setup({ settings: { stallTimeoutMs: 200 } });
      const slow = await open('ash');
      const fast = await open('misty');
      slow.stalled = true;
      // Before the write that stalls: the stall cannot have begun earlier.
      const since = Date.now();
      await log.append(testNotification({ params: { n: 1 } }));
      await until(() => fast.notifications().length === 2, 'the fast client');
      await until(() => slow.destroyed, 'the stalled client to be dropped');
      // Checked every quarter of the stall time: dropped after it, not much later.
      expect(Date.now() - since).toBeGreaterThanOrEqual(200 - 60);
      expect(slow.writableLength).toBeLessThan(1_000);
      expect(hub.connectionsOf('ash')).toHaveLength(0);
      expect(hub.connectionsOf('misty')).toHaveLength(1);
      expect(fast.destroyed).toBe(false);
      expect(await metric('causeway_sse_slow_clients_dropped_total')).toEqual([
        { labels: {}, value: 1 },
      ]);
    });

    it('sends heartbeats and closes a connection after its timeout with a retry hint', async () => {
      const { hub, open } = await setup({
        settings: { heartbeatMs: 20, connectionTimeoutMs: 300, retryMs: 1_234 },
      });
      const sink = await open('ash');
      await until(() => sink.frames().some((frame) => frame.comment), 'a heartbeat');
      await until(() => sink.ended, 'the timeout');
      // With the id the client resumes from: nothing was logged, its session's.
      expect(sink.frames().at(-1)).toEqual({ retry: 1_234, id: sink.frames()[0]?.id });
      expect(hub.size).toBe(0);
    });

    it('sends `heartbeat` events repeating the last id to a stream that asked for them, and says how often in its session', async () => {
      const { hub, log, open, toUser } = await setup({ settings: { heartbeatMs: 20 } });
      const comments = await open('ash');
      const events = new TestSink();
      await hub.open({ userId: 'ash', trainerIds: [] }, events, { heartbeat: 'event' });
      expect(events.notifications('session')[0]?.params).toMatchObject({ heartbeatMs: 20 });
      expect(comments.notifications('session')[0]?.params).toMatchObject({ heartbeatMs: 20 });
      const delivered = await log.append(toUser('ash', { n: 1 }));
      const beat = (frame: ParsedFrame) => frame.event === 'heartbeat';
      await until(
        () => events.frames().some((frame) => beat(frame) && frame.id === delivered),
        'a heartbeat event after the frame',
      );
      await until(() => comments.frames().some((frame) => frame.comment), 'a heartbeat comment');
      const before = Date.now();
      const frames = events.frames();
      // Each repeats the id of the frame before it: the stream's position, unchanged.
      for (const [index, heartbeat] of frames.entries()) {
        if (!beat(heartbeat)) continue;
        const previous = frames[index - 1];
        expect(heartbeat).toEqual({
          event: 'heartbeat',
          id: previous?.id,
          method: 'heartbeat',
          params: { serverTime: expect.any(Number) },
        });
        expect(heartbeat.params?.serverTime).toBeLessThanOrEqual(before);
      }
      expect(events.frames().some((frame) => frame.comment)).toBe(false);
      expect(comments.frames().some(beat)).toBe(false);
    });

    it('moves a quiet stream on with an id-only heartbeat, so that its reconnect replays nothing however busy the log was', async () => {
      const { log, open, toUser } = await setup({
        settings: { heartbeatMs: 20, historyScanLimit: 5 },
      });
      const quiet = await open('ash');
      let last = '';
      // More entries than a resume may read, none for ash.
      for (let i = 0; i < 10; i++) last = await log.append(toUser('misty', { i }));
      await until(() => quiet.frames().some((frame) => frame.id === last), 'an id-only heartbeat');
      // An `id:` and nothing else: an EventSource takes the id and dispatches no event.
      expect(quiet.frames().find((frame) => frame.id === last)).toEqual({ id: last });
      const resumed = await open('ash', last);
      expect(resumed.notifications()).toEqual([
        expect.objectContaining({
          id: last,
          params: expect.objectContaining({ resumed: 'replayed', replayed: 0 }),
        }),
      ]);
    });

    it('allows a recovery larger than BUFFER_MAX_BYTES, and bounds what comes after it', async () => {
      const { hub, log, positions, open, toUser } = await setup({
        settings: { bufferMaxBytes: 4_096, historySize: 1 },
      });
      for (let i = 0; i < 100; i++) await positions.apply(row(`trainer-${i}`, i));
      const first = await open('ash');
      for (let i = 0; i < 3; i++) await log.append(toUser('ash', { i }));
      // A client on a slow link: nothing it is sent is taken for now.
      const slow = new TestSink();
      slow.stalled = true;
      await hub.open({ userId: 'ash', trainerIds: [] }, slow, {
        lastEventId: first.frames()[0]!.id!,
      });
      expect(slow.writableLength).toBeGreaterThan(4_096);
      const witness = await open('misty');
      await log.append(testNotification({ targetType: 'broadcast', params: { live: 1 } }));
      await until(() => witness.notifications().length === 2, 'the live frame');
      expect(slow.destroyed).toBe(false);
      expect(hub.connectionsOf('ash')).toHaveLength(2);
      // Beyond BUFFER_MAX_BYTES more, it is as slow as any other.
      const big = 'x'.repeat(1_000);
      for (let i = 0; i < 6; i++)
        await log.append(testNotification({ targetType: 'broadcast', params: { big, i } }));
      await until(() => slow.destroyed, 'the slow client to be dropped');
    });

    it("ends a stream when its credential's session ends, whenever it opened", async () => {
      // Sessions end in another order than the streams opened; the connection timeout is far.
      const { hub, log, open, toUser, metric } = await setup({
        settings: { connectionTimeoutMs: 60_000 },
      });
      const now = Date.now();
      const late = await open('ash', undefined, [], now + 60_000);
      const soon = await open('ash', undefined, [], now + 2_000);
      const never = await open('misty');
      const delivered = await log.append(toUser('ash'));
      await until(() => soon.notifications('command.result').length === 1, 'the frame');
      await until(() => soon.ended, 'the end of the session');
      // It says so, repeating the id to resume from once the client has a new credential.
      expect(soon.frames().at(-1)).toEqual({
        id: delivered,
        method: 'expired',
        params: { expiredAt: now + 2_000 },
      });
      expect(Date.now()).toBeGreaterThanOrEqual(now + 2_000);
      expect(late.ended).toBe(false);
      expect(never.ended).toBe(false);
      expect(hub.connectionsOf('ash')).toHaveLength(1);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'expired' }, value: 1 },
      ]);
    });

    it("ends every stream of a user on disconnect, saying why, and no one else's", async () => {
      const { hub, log, open, toUser, metric } = await setup();
      const tabs = [await open('ash'), await open('ash')];
      const misty = await open('misty');
      const delivered = await log.append(toUser('ash'));
      await until(() => tabs[1]!.notifications('command.result').length === 1, 'the frame');
      expect(hub.disconnect('ash', 'account locked')).toBe(2);
      for (const tab of tabs) {
        expect(tab.ended).toBe(true);
        expect(tab.frames().at(-1)).toEqual({
          id: delivered,
          method: 'disconnected',
          params: { reason: 'account locked' },
        });
      }
      expect(misty.ended).toBe(false);
      expect(hub.connectionsOf('ash')).toHaveLength(0);
      expect(hub.disconnect('ash', 'again')).toBe(0);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'disconnected' }, value: 2 },
      ]);
    });

    it('ends the streams a revocation cuts, with a disconnected frame, and no later session', async () => {
      const { hub, open, metric } = await setup();
      const sinks = { old: new TestSink(), undated: new TestSink(), fresh: new TestSink() };
      // Sessions begun at 1 000 (before the cut), unknown, and 120 s after the cut.
      await hub.open({ userId: 'ash', trainerIds: [], issuedAt: 1_000 }, sinks.old);
      await hub.open({ userId: 'ash', trainerIds: [] }, sinks.undated);
      await hub.open({ userId: 'ash', trainerIds: [], issuedAt: 122_000 }, sinks.fresh);
      const misty = await open('misty');
      expect(hub.revoked('ash', 2_000)).toBe(2);
      for (const sink of [sinks.old, sinks.undated]) {
        expect(sink.ended).toBe(true);
        expect(sink.notifications('disconnected')[0]?.params).toEqual({ reason: REVOKED_REASON });
      }
      expect(sinks.fresh.ended).toBe(false);
      expect(misty.ended).toBe(false);
      expect(await metric('causeway_sse_closed_total')).toEqual([
        { labels: { reason: 'revoked' }, value: 2 },
      ]);
    });

    it('ends at once a stream checked before a disconnect order and registered after it', async () => {
      const { hub } = await setup();
      const checkedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(hub.disconnect('ash', 'locked')).toBe(0);
      const late = new TestSink();
      await hub.open({ userId: 'ash', trainerIds: [] }, late, { checkedAt });
      expect(late.ended).toBe(true);
      expect(late.notifications().map((frame) => frame.method)).toEqual(['disconnected']);
      expect(hub.connectionsOf('ash')).toHaveLength(0);
      // A stream whose checks began after the order opens as usual. (Begun in the same
      // millisecond as the order counts as before it: the order's time has whole milliseconds.)
      await new Promise((resolve) => setTimeout(resolve, 2));
      const next = new TestSink();
      await hub.open({ userId: 'ash', trainerIds: [] }, next, { checkedAt: Date.now() });
      expect(next.ended).toBe(false);
      expect(hub.connectionsOf('ash')).toHaveLength(1);
      // Every frame has an id: the ended stream's is where a new one opens.
      expect(late.frames()[0]!.id).toBe(next.frames()[0]!.id);
    });

    it('on stop tells every client to come back later and closes the streams', async () => {
      const { hub, log, open, toUser } = await setup({ settings: { retryMs: 1_000 } });
      const sinks = [await open('ash'), await open('misty')];
      const delivered = await log.append(toUser('ash'));
      await until(() => sinks[0]!.notifications('command.result').length === 1, 'the frame');
      await hub.stop();
      expect(hub.admit('ash')).toMatchObject({ ok: false, status: 503 });
      // The shutdown frame's id is where each client resumes from: the last entry the hub
      // dispatched, misty's too (it was not for her; she missed nothing up to it).
      for (const [sink, lastId] of [
        [sinks[0]!, delivered],
        [sinks[1]!, delivered],
      ] as const) {
        expect(sink.ended).toBe(true);
        const [retry, shutdown] = sink.frames().slice(-2);
        expect(retry?.retry).toBeGreaterThanOrEqual(1_000);
        expect(retry?.retry).toBeLessThanOrEqual(2_000);
        expect(shutdown).toMatchObject({ method: 'shutdown', params: { serverId: 'gw-1' } });
        expect(shutdown?.id).toBeDefined();
        expect(shutdown?.id).toBe(lastId);
      }
    });

    it("on stop spreads the clients' reconnects at random over one to two retry intervals", async () => {
      const { hub, open } = await setup({ settings: { retryMs: 1_000 } });
      const sinks = [await open('ash'), await open('misty')];
      const random = jest.spyOn(Math, 'random').mockReturnValueOnce(0.25).mockReturnValueOnce(0.75);
      try {
        await hub.stop();
      } finally {
        random.mockRestore();
      }
      // The hint sent just before the shutdown notification (the stream opened with one too).
      const hints = sinks.map((sink) => sink.frames().slice(-2)[0]?.retry);
      expect(hints).toEqual([1_250, 1_750]);
    });

    it("on stop before a resume's replay is written, the shutdown id is the client's own", async () => {
      const { hub, log, toUser } = await setup();
      const first = await log.append(toUser('ash'));
      const missed = await log.append(toUser('ash'));
      const sink = new TestSink();
      expect(hub.admit('ash')).toEqual({ ok: true });
      // Opened with a Last-Event-ID and stopped before the replay is read: nothing was written,
      // so the client must resume from where it was, or it would skip `missed`.
      const opening = hub.open({ userId: 'ash', trainerIds: [] }, sink, { lastEventId: first });
      await hub.stop();
      await opening;
      const shutdown = sink.notifications('shutdown')[0];
      const written = sink.frames().filter((frame) => frame.id !== undefined);
      expect(written.map((frame) => frame.id)).not.toContain(missed);
      expect(shutdown?.id).toBe(first);
    });
  });
});

/** The id of the session frame of a stream opened while the hub's log is empty. */
async function sessionOfEmptyLog(hub: SseHub): Promise<string> {
  const sink = new TestSink();
  await hub.open({ userId: 'someone', trainerIds: [] }, sink);
  sink.hangUp();
  return sink.frames()[0]!.id!;
}

const MOVED_AT = Date.now();

function row(trainerId: string, x: number) {
  return {
    trainerId,
    x,
    y: 0,
    isMoving: false,
    dirX: 0,
    dirY: 0,
    speed: 0,
    startedAt: 0,
    version: 1,
    // Recent: recovery shows the trainers that moved within POSITIONS_MAX_AGE_MS.
    updatedAt: MOVED_AT,
  };
}
