import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryProgressStatuses,
  InMemoryTrainerPositions,
} from '@causeway/platform';
import { progressStatusOf } from '@causeway/contracts';
import { testNotification } from '@causeway/platform/testing';
import { DEFAULT_GATEWAY_SETTINGS } from '../gateway/gateway.settings';
import {
  progressEvent,
  progressNotification,
  progressStatusAt,
} from '../testing/progress.test-data';
import { TestSink } from '../testing/sse.test-sink';
import { SseHub } from '../sse/sse.hub';
import { progressView } from './progress.view';

const hubs: SseHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.stop()));
});

async function until<T>(probe: () => T | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function setup(settings: Partial<typeof DEFAULT_GATEWAY_SETTINGS> = {}) {
  const log = new InMemoryNotificationLog();
  const statuses = new InMemoryProgressStatuses({ ttlMs: 86_400_000 });
  const hub = new SseHub({
    serverId: 'gw-1',
    log,
    positions: new InMemoryTrainerPositions(),
    groups: new InMemoryGroupMembers(),
    settings: { ...DEFAULT_GATEWAY_SETTINGS, ...settings },
  });
  hubs.push(hub);
  await hub.start();
  const open = async (
    userId: string,
    taskId?: string,
    lastEventId?: string,
    heartbeat?: 'event',
  ) => {
    const sink = new TestSink();
    expect(hub.admit(userId).ok).toBe(true);
    await hub.open({ userId, trainerIds: [] }, sink, {
      lastEventId,
      heartbeat,
      view: progressView(statuses, userId, taskId),
    });
    return sink;
  };
  /**
   * Opens a stream of `userId` whose opening reads the statuses only once `read` is called:
   * what comes in the meantime (a notification queued, a stop) meets a stream being opened.
   */
  const openGated = (userId: string, taskId?: string) => {
    let read!: () => void;
    const gate = new Promise<void>((resolve) => (read = resolve));
    const gated = {
      get: async (id: string) => (await gate, statuses.get(id)),
      ofUser: async (user: string, limit?: number) => (await gate, statuses.ofUser(user, limit)),
    };
    const sink = new TestSink();
    expect(hub.admit(userId).ok).toBe(true);
    const opened = hub.open({ userId, trainerIds: [] }, sink, {
      view: progressView(gated, userId, taskId),
    });
    return { sink, opened, read };
  };
  return { hub, log, statuses, open, openGated };
}

/** Stores task t-1 of ash as COMPLETED (steps 0 to 3, then 4); its last event. */
async function completed(statuses: InMemoryProgressStatuses) {
  const earlier = [0, 1, 2, 3].map((step) => progressEvent('t-1', 'ash', step));
  const last = progressEvent('t-1', 'ash', 4, 'COMPLETED');
  await statuses.apply(progressStatusOf([...earlier, last])!);
  return last;
}

/** The named events of a progress stream, as a client's listeners get them. */
const events = (sink: TestSink) =>
  sink
    .frames()
    .filter((frame) => frame.event === 'recovery' || frame.event === 'progress')
    .map((frame) => ({ event: frame.event, id: frame.id, data: frame.data }));

/** Each named event's name, task and percentage. */
const shown = (sink: TestSink) =>
  events(sink).map(({ event, data }) => {
    const { taskId, percentage } = data as { taskId: string; percentage: number };
    return [event, taskId, percentage];
  });

describe('progress streams (ADR 015, S3-4/S3-5)', () => {
  it('open with a recovery event per task of the caller holding its status, before anything else', async () => {
    const { statuses, open, log } = await setup();
    await log.append(testNotification());
    await statuses.apply(progressStatusAt('t-old', 'ash', 1));
    await statuses.apply(progressStatusAt('t-75', 'ash', 3));
    await statuses.apply(progressStatusAt('t-misty', 'misty', 2));
    const all = await open('ash');
    const one = await open('ash', 't-75');
    const [first] = all.frames();
    expect(first).toMatchObject({ event: 'recovery', retry: DEFAULT_GATEWAY_SETTINGS.retryMs });
    expect(
      events(all)
        .map((e) => (e.data as { taskId: string }).taskId)
        .sort(),
    ).toEqual(['t-75', 't-old']);
    expect(events(one)).toEqual([
      {
        event: 'recovery',
        id: expect.any(String),
        data: expect.objectContaining({ taskId: 't-75', percentage: 75, status: 'PROGRESS' }),
      },
    ]);
    // No JSON-RPC `session` frame: a progress stream shows progress only.
    expect(all.notifications()).toEqual([]);
  });

  it("sends the caller's progress updates (of the task, on a one-task stream) as `progress` events, and nothing else", async () => {
    const { log, open } = await setup();
    const all = await open('ash');
    const one = await open('ash', 't-1');
    const mine = progressEvent('t-1', 'ash', 1);
    const otherTask = progressEvent('t-2', 'ash', 1);
    const mineId = await log.append(progressNotification(mine));
    await log.append(testNotification({ targetType: 'user', targetIds: ['ash'] })); // a move
    await log.append(progressNotification(progressEvent('t-9', 'misty', 1)));
    const otherId = await log.append(progressNotification(otherTask));
    await until(() => events(all).length === 2, 'both updates');
    expect(events(all)).toEqual([
      { event: 'progress', id: mineId, data: mine },
      { event: 'progress', id: otherId, data: otherTask },
    ]);
    expect(events(one)).toEqual([{ event: 'progress', id: mineId, data: mine }]);
    expect(all.notifications()).toEqual([]);
  });

  it('replays after Last-Event-ID only the missed progress events, in order, after the recovery', async () => {
    const { log, open, statuses } = await setup();
    const seen = await log.append(progressNotification(progressEvent('t-1', 'ash', 0)));
    const step1 = progressEvent('t-1', 'ash', 1);
    const step2 = progressEvent('t-1', 'ash', 2);
    const id1 = await log.append(progressNotification(step1));
    await log.append(testNotification({ targetType: 'user', targetIds: ['ash'] }));
    await log.append(progressNotification(progressEvent('t-2', 'ash', 1)));
    const id2 = await log.append(progressNotification(step2));
    await statuses.apply(progressStatusAt('t-1', 'ash', 2));
    const resumed = await open('ash', 't-1', seen);
    expect(events(resumed)).toEqual([
      { event: 'recovery', id: seen, data: expect.objectContaining({ percentage: 50 }) },
      { event: 'progress', id: id1, data: step1 },
      { event: 'progress', id: id2, data: step2 },
    ]);
  });

  it('tells a new stream a task’s state once: the recovery, not again the events it already holds', async () => {
    // order-processor stores the status, then logs its notification: a stream opened between
    // the two (or before this gateway's follower dispatched it) recovers the final state, and
    // then the notification comes. It was a second COMPLETED (and, for an event older than the
    // status, a bar stepping back); events after the recovered state still come.
    const { log, open, statuses } = await setup();
    const events3 = [0, 1, 2, 3].map((step) => progressEvent('t-1', 'ash', step));
    const last = progressEvent('t-1', 'ash', 4, 'COMPLETED');
    await statuses.apply(progressStatusOf([...events3, last])!);
    await statuses.apply(progressStatusAt('t-2', 'ash', 1));
    const all = await open('ash');
    const one = await open('ash', 't-1');
    await log.append(progressNotification(events3[3]!)); // older than the recovered state
    await log.append(progressNotification(last));
    const step2 = progressEvent('t-2', 'ash', 2);
    const id2 = await log.append(progressNotification(step2)); // newer: comes
    await until(() => events(all).some((e) => e.id === id2), 'the newer event');
    expect(shown(all)).toEqual([
      ['recovery', 't-2', 25],
      ['recovery', 't-1', 100],
      ['progress', 't-2', 50],
    ]);
    expect(shown(one)).toEqual([['recovery', 't-1', 100]]);
  });

  it('does not tell again what queued while the opening read the state it already holds', async () => {
    const { hub, log, statuses, openGated } = await setup();
    const last = await completed(statuses);
    // The state is read only once the hub has queued the notification on the stream.
    const { sink, opened, read } = openGated('ash', 't-1');
    await log.append(progressNotification(last));
    await hub.caughtUp();
    read();
    await opened;
    expect(shown(sink)).toEqual([['recovery', 't-1', 100]]);
  });

  it('moves the resume point past an event it does not tell, so that a reconnect does not tell it either', async () => {
    // The recovery holds the COMPLETED that is logged after it was read, so the event is not
    // sent; but the client's id stayed the recovery's until the next heartbeat (30 s), and its
    // reconnect within that window replayed the COMPLETED the page had shown already.
    const { hub, log, open, statuses } = await setup();
    const last = await completed(statuses);
    const first = await open('ash', 't-1');
    const lastId = await log.append(progressNotification(last));
    await hub.caughtUp();
    expect(shown(first)).toEqual([['recovery', 't-1', 100]]);
    // Where an EventSource resumes from: the id of the last frame that carried one.
    const resumeFrom = first
      .frames()
      .filter((frame) => frame.id !== undefined)
      .at(-1)!.id!;
    const again = await open('ash', 't-1', resumeFrom);
    expect(shown(again)).toEqual([['recovery', 't-1', 100]]);
    expect(resumeFrom).toBe(lastId);
  });

  it('moves the resume point past what queued during the opening and was not told', async () => {
    const { hub, log, statuses, openGated } = await setup();
    const last = await completed(statuses);
    const { sink, opened, read } = openGated('ash', 't-1');
    const lastId = await log.append(progressNotification(last));
    await hub.caughtUp();
    read();
    await opened;
    expect(shown(sink)).toEqual([['recovery', 't-1', 100]]);
    expect(sink.frames().at(-1)).toEqual({ id: lastId });
  });

  it('gives a caller without tasks the resume point, so that a reconnect replays what it missed', async () => {
    const { log, open } = await setup();
    const last = await log.append(testNotification());
    const sink = await open('ash');
    expect(sink.frames()).toEqual([{ id: last, retry: DEFAULT_GATEWAY_SETTINGS.retryMs }]);
  });

  it('gives a stream stopped while its opening is read an id to resume from', async () => {
    const { hub, log, openGated } = await setup();
    const last = await log.append(testNotification());
    const { sink, opened, read } = openGated('ash');
    await hub.stop();
    read();
    await opened;
    // Every frame has an id: its reconnect resumes from where the stream opened.
    expect(sink.notifications('shutdown')).toEqual([expect.objectContaining({ id: last })]);
  });

  it('ends a stream whose opening cannot be read with a retry hint and its resume point', async () => {
    const { hub, log } = await setup();
    const last = await log.append(testNotification());
    const unreadable = {
      get: async () => Promise.reject(new Error('redis down')),
      ofUser: async () => Promise.reject(new Error('redis down')),
    };
    const sink = new TestSink();
    expect(hub.admit('ash').ok).toBe(true);
    await hub.open({ userId: 'ash', trainerIds: [] }, sink, {
      view: progressView(unreadable, 'ash'),
    });
    expect(sink.ended).toBe(true);
    expect(sink.frames()).toEqual([{ retry: DEFAULT_GATEWAY_SETTINGS.retryMs, id: last }]);
  });

  it('gets the heartbeats of GET /events and counts against the same per-user limit', async () => {
    const { hub, open } = await setup({ heartbeatMs: 20, maxConnectionsPerUser: 2 });
    const plain = new TestSink();
    await hub.open({ userId: 'ash', trainerIds: [] }, plain);
    const progress = await open('ash', undefined, undefined, 'event');
    await until(
      () => progress.frames().some((frame) => frame.event === 'heartbeat'),
      'a heartbeat event',
    );
    expect(hub.admit('ash')).toMatchObject({ ok: false, status: 429, reason: 'user-limit' });
  });
});
