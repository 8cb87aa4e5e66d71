import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { acceptedProgressStatus, type ProgressEvent, progressStatusOf } from '@causeway/contracts';
import { RedisNotificationLog, RedisProgressStatuses, TokenService } from '@causeway/platform';
import {
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import { EventSource } from 'eventsource';
import Redis from 'ioredis';
import {
  progressEvent,
  progressNotification,
  progressStatusAt,
} from '../src/testing/progress.test-data';

/**
 * The progress streams (ADR 015 point 4, SPEC S3-4/S3-5) of the built app over real Redis:
 * statuses as order-processor writes them (RedisProgressStatuses under TOPIC_PREFIX), progress
 * updates appended to the notification log every gateway follows, read with EventSource.
 */
const ns = testNamespace('sseprogress');
const appDir = path.join(__dirname, '..');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });

let redis: Redis;
let log: RedisNotificationLog;
let statuses: RedisProgressStatuses;
let gateway: ServiceProcess;
const sources: EventSource[] = [];

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  log = new RedisNotificationLog({ client: redis, keyPrefix: `${ns.id}:` });
  statuses = new RedisProgressStatuses({
    client: redis,
    keyPrefix: `${ns.id}:`,
    ttlMs: 86_400_000,
  });
  gateway = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: ns.redisUrl,
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: secret,
      TOPIC_PREFIX: ns.id,
      INSTANCE_ID: 'gw-progress',
      RATE_LIMIT_POINTS: '10000',
    },
  });
  await waitForStatus(`${gateway.url}/health/ready`, 200);
}, 120_000);

afterAll(async () => {
  for (const source of sources) source.close();
  await gateway?.stop('SIGKILL');
  await log?.close();
  for await (const keys of redis.scanStream({ match: `${ns.id}*`, count: 1_000 }))
    if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
  redis.disconnect();
});

interface Received {
  event: 'recovery' | 'progress';
  id: string;
  data: Record<string, unknown>;
}

/** An EventSource on `path` (with these headers on every request) and what it received. */
function subscribe(path: string, headers: Record<string, string> = {}) {
  const received: Received[] = [];
  const source = new EventSource(`${gateway.url}${path}`, {
    fetch: (url, init) => {
      const merged = new Headers(init.headers);
      for (const [name, value] of Object.entries(headers)) merged.set(name, value);
      return fetch(url, { ...init, headers: merged });
    },
  });
  sources.push(source);
  for (const event of ['recovery', 'progress'] as const)
    source.addEventListener(event, (message) =>
      received.push({
        event,
        id: message.lastEventId,
        data: JSON.parse(message.data as string) as Record<string, unknown>,
      }),
    );
  // Any other event (`message`: a JSON-RPC notification) would show here.
  const others: string[] = [];
  source.onmessage = (message) => others.push(message.data as string);
  return { source, received, others };
}

async function until(probe: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const bearer = async (userId: string) => ({
  Authorization: `Bearer ${(await tokens.issue(userId)).token}`,
});
const progress = (event: ProgressEvent) => ({
  event: 'progress',
  id: expect.any(String),
  data: event,
});

describe('GET /api/v2/progress/subscribe[/{taskId}]', () => {
  const ash = `ash-${randomUUID()}`;
  const misty = `misty-${randomUUID()}`;
  const paid = randomUUID(); // ash's task at 75 %
  const other = randomUUID(); // ash's other task
  const mistys = randomUUID();
  const live: { all?: Received[]; one?: Received[] } = {};

  it('opens with the status of each of the caller’s tasks — a client at 75 % sees 75 % at once — then only its progress events', async () => {
    await statuses.apply(progressStatusAt(other, ash, 1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await statuses.apply(progressStatusAt(paid, ash, 3));
    await statuses.apply(progressStatusAt(mistys, misty, 2));
    const auth = await bearer(ash);
    const all = subscribe('/api/v2/progress/subscribe', auth);
    // The one-task stream as a page opens it: EventSource with a stream token (no header).
    const issued = await fetch(`${gateway.url}/api/stream-tokens`, {
      method: 'POST',
      headers: auth,
    });
    const { token } = (await issued.json()) as { token: string };
    const one = subscribe(`/api/v2/progress/subscribe/${paid}?token=${token}`);
    await until(() => all.received.length === 2 && one.received.length === 1, 'the recoveries');
    expect(one.received[0]).toMatchObject({
      event: 'recovery',
      data: { taskId: paid, userId: ash, percentage: 75, status: 'PROGRESS', currentStep: 3 },
    });
    expect(all.received.map(({ event, data }) => [event, data.taskId, data.percentage])).toEqual([
      ['recovery', paid, 75],
      ['recovery', other, 25],
    ]);

    const step4 = progressEvent(paid, ash, 4);
    const otherStep = progressEvent(other, ash, 2);
    const last = progressEvent(paid, ash, 4, 'COMPLETED');
    await log.append(progressNotification(step4));
    await log.append({
      notificationId: randomUUID(),
      targetType: 'user',
      targetIds: [ash],
      method: 'position.update',
      params: { trainerId: ash, x: 1, y: 2, isMoving: false, dirX: 0, dirY: 0 },
      serverId: 'trainer-service-test',
    });
    await log.append(progressNotification(progressEvent(mistys, misty, 3)));
    await log.append(progressNotification(otherStep));
    await log.append(progressNotification(last));
    await until(
      () => all.received.length === 5 && one.received.length === 3,
      'the progress events',
    );
    expect(all.received.slice(2)).toEqual([progress(step4), progress(otherStep), progress(last)]);
    expect(one.received.slice(1)).toEqual([progress(step4), progress(last)]);
    // Each `id:` is a position in the log, the same on both streams.
    expect(one.received.slice(1).map((r) => r.id)).toEqual([
      all.received[2]!.id,
      all.received[4]!.id,
    ]);
    expect(all.others).toEqual([]);
    expect(one.others).toEqual([]);
    all.source.close();
    one.source.close();
    live.all = all.received;
    live.one = one.received;
  }, 60_000);

  it('replays after Last-Event-ID only the progress events missed, in order', async () => {
    const auth = await bearer(ash);
    const [recovery, , first, second, third] = live.all!;
    // Resumed from its recovery: everything after it.
    const all = subscribe('/api/v2/progress/subscribe', {
      ...auth,
      'Last-Event-ID': recovery!.id,
    });
    // Resumed from its first progress event (the query parameter, as a new EventSource would).
    const one = subscribe(
      `/api/v2/progress/subscribe/${paid}?lastEventId=${encodeURIComponent(live.one![1]!.id)}`,
      auth,
    );
    await until(() => all.received.length === 5 && one.received.length === 2, 'the replays');
    expect(all.received.map((r) => r.event)).toEqual([
      'recovery',
      'recovery',
      'progress',
      'progress',
      'progress',
    ]);
    expect(all.received.slice(2)).toEqual([first, second, third]);
    expect(one.received).toEqual([
      {
        event: 'recovery',
        id: live.one![1]!.id,
        data: expect.objectContaining({ taskId: paid }),
      },
      live.one![2],
    ]);
    // Nothing more comes: a moment for a stray duplicate to show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(all.received).toHaveLength(5);
    expect(one.received).toHaveLength(2);
    all.source.close();
    one.source.close();
  }, 60_000);

  it('follows a task placed a moment ago, before order-processor stored anything of it', async () => {
    // The 202 of POST /api/v2/progress/orders hands out subscribeUrl before the order reached
    // order-processor (Kafka lag, a rebalance): opening it at once must follow the task, not
    // answer 404 — an EventSource never reconnects after a 404.
    const auth = await bearer(ash);
    const placed = randomUUID();
    const one = subscribe(`/api/v2/progress/subscribe/${placed}`, auth);
    await until(() => one.source.readyState === EventSource.OPEN, 'the open stream');
    expect(one.received).toEqual([]);
    const started = progressEvent(placed, ash, 0);
    await statuses.apply(progressStatusOf([started])!);
    await log.append(progressNotification(progressEvent(mistys, misty, 4)));
    await log.append(progressNotification(started));
    await until(() => one.received.length > 0, 'the STARTED state');
    // The stream's headers go out before its opening reads the task's state: a status stored
    // in between comes as a `recovery` of that same state instead of the event — told once
    // either way, never the recovery and then the event again (session 42).
    const [first] = one.received;
    if (first?.event === 'recovery')
      expect(first).toMatchObject({ data: { taskId: placed, eventCount: 1 } });
    else expect(first).toEqual(progress(started));
    // A moment for a stray repeat to show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(one.received).toHaveLength(1);
    // A reconnect now opens with the task's state.
    const again = subscribe(`/api/v2/progress/subscribe/${placed}`, auth);
    await until(() => again.received.length === 1, 'the recovery');
    expect(again.received[0]).toMatchObject({ event: 'recovery', data: { taskId: placed } });
    one.source.close();
    again.source.close();
  }, 60_000);

  it('opens an accepted task not started yet with its ACCEPTED recovery at 0 %, as /status answers', async () => {
    const auth = await bearer(ash);
    const placed = randomUUID();
    // What command-api records once Kafka acknowledged the order.
    const accepted = acceptedProgressStatus({
      taskId: placed,
      userId: ash,
      placedAt: new Date().toISOString(),
    });
    await statuses.apply(accepted);
    const one = subscribe(`/api/v2/progress/subscribe/${placed}`, auth);
    await until(() => one.received.length === 1, 'the recovery');
    expect(one.received[0]).toEqual({ event: 'recovery', id: expect.any(String), data: accepted });
    const started = progressEvent(placed, ash, 0);
    await statuses.apply(progressStatusOf([started])!);
    await log.append(progressNotification(started));
    await until(() => one.received.length === 2, 'the STARTED event');
    expect(one.received[1]).toEqual(progress(started));
    one.source.close();
  }, 60_000);

  it('answers 404 before any stream for another user’s task, 401 without a credential', async () => {
    const auth = await bearer(ash);
    for (const taskId of [mistys]) {
      const response = await fetch(`${gateway.url}/api/v2/progress/subscribe/${taskId}`, {
        headers: auth,
      });
      expect({
        status: response.status,
        type: response.headers.get('content-type'),
        body: await response.json(),
      }).toEqual({
        status: 404,
        type: expect.stringContaining('application/problem+json'),
        body: expect.objectContaining({
          status: 404,
          type: expect.stringContaining('not-found'),
          // The task's, not an unknown route's.
          detail: expect.stringContaining(taskId),
        }),
      });
    }
    for (const route of ['/api/v2/progress/subscribe', `/api/v2/progress/subscribe/${paid}`]) {
      const response = await fetch(`${gateway.url}${route}`);
      expect({ route, status: response.status }).toEqual({ route, status: 401 });
      await response.body?.cancel();
    }
  });

  it('answers 400 naming taskId before any stream for an id no task can have, as order-processor does', async () => {
    const auth = await bearer(ash);
    for (const taskId of ['a%00b', 'x'.repeat(129), 'x'.repeat(2_000)]) {
      const response = await fetch(`${gateway.url}/api/v2/progress/subscribe/${taskId}`, {
        headers: auth,
      });
      const answered = {
        taskId: taskId.slice(0, 8),
        status: response.status,
        body: response.status === 200 ? await response.body?.cancel() : await response.json(),
      };
      expect(answered).toEqual({
        taskId: taskId.slice(0, 8),
        status: 400,
        body: expect.objectContaining({
          type: 'https://causeway.dev/problems/invalid-request',
          errors: [{ field: 'taskId', message: expect.any(String) }],
        }),
      });
    }
  });

  it('answers a problem document, before any stream, for a taskId whose escapes decode to no text', async () => {
    // The router refuses it before any route (a malformed escape, a lone surrogate's); a client
    // branching on application/problem+json must get one, not Nest's default 400 body.
    const auth = await bearer(ash);
    for (const taskId of ['%E0%A4%A', '%ED%A0%80']) {
      const response = await fetch(`${gateway.url}/api/v2/progress/subscribe/${taskId}`, {
        headers: auth,
      });
      expect({
        taskId,
        status: response.status,
        type: response.headers.get('content-type'),
        body: response.status === 200 ? await response.body?.cancel() : await response.json(),
      }).toEqual({
        taskId,
        status: 400,
        type: expect.stringContaining('application/problem+json'),
        body: expect.objectContaining({ type: 'about:blank', status: 400 }),
      });
    }
  });
});
