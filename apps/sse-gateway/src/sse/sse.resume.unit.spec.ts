import { InMemoryNotificationLog, type NotificationLog } from '@causeway/platform';
import { testNotification } from '@causeway/platform/testing';
import { planResume } from './sse.resume';

const to = (userId: string, n: number) =>
  testNotification({ targetType: 'user', targetIds: [userId], params: { n } });

/** The log as it is, except that `beforeFirstRead` runs once, just before the first read. */
function trimmedBeforeRead(log: NotificationLog, beforeFirstRead: () => Promise<void>) {
  let first = true;
  return Object.assign(Object.create(log) as NotificationLog, {
    read: async (afterId: string | undefined, limit: number) => {
      if (first) {
        first = false;
        await beforeFirstRead();
      }
      return log.read(afterId, limit);
    },
  });
}

describe('planResume', () => {
  const plan = (log: NotificationLog, lastEventId: string, upTo: string) =>
    planResume({
      log,
      userId: 'ash',
      lastEventId,
      upTo,
      historySize: 100,
      historyScanLimit: 1_000,
      historyTtlMs: 60_000,
      now: Date.now(),
    });

  it('replays what the client missed after its id, in order', async () => {
    const log = new InMemoryNotificationLog({ maxLength: 5 });
    const ids = [];
    for (let n = 1; n <= 4; n++) ids.push((await log.append(to(n % 2 ? 'ash' : 'misty', n)))!);
    const resumed = await plan(log, ids[0]!, ids[3]!);
    expect(resumed.kind).toBe('replay');
    expect(resumed.kind === 'replay' && resumed.entries.map((e) => e.id)).toEqual([ids[2]]);
  });

  // Retention removes a deleted task's progress notifications from the log (S3-7): when they
  // were its newest entries, what the live follower dispatched (upTo) is no longer in it. That
  // is not a log that lost its data: nothing the client could be told is missing.
  it('replays, not recovery, when the entries up to upTo were removed from the log', async () => {
    const log = new InMemoryNotificationLog();
    const seen = (await log.append(to('ash', 1)))!;
    const progress = (await log.append(to('misty', 2)))!;
    expect(await log.remove([progress])).toBe(1);
    expect(await plan(log, seen, progress)).toEqual({ kind: 'replay', entries: [] });
  });

  it('takes an id removed from the log as a position in it, not an unknown one', async () => {
    const log = new InMemoryNotificationLog();
    const before = (await log.append(to('ash', 1)))!;
    const seen = (await log.append(to('ash', 2)))!;
    await log.remove([seen]);
    // A gateway started after the removal follows from the newest entry left.
    expect(await plan(log, seen, before)).toEqual({ kind: 'ahead' });
  });

  it('tells an id the log holds beyond upTo (this instance lags) from one ahead of the log', async () => {
    const log = new InMemoryNotificationLog();
    const ids = [];
    for (let n = 1; n <= 3; n++) ids.push((await log.append(to('ash', n)))!);
    expect(await plan(log, ids[2]!, ids[0]!)).toEqual({ kind: 'ahead' });
    expect(await plan(log, `${Date.now() + 60_000}-0`, ids[0]!)).toEqual({
      kind: 'recovery',
      reason: 'unknown-position',
    });
  });

  it('sends recovery, never a replay short of entries, when the log is trimmed past the id while the gap is read', async () => {
    const log = new InMemoryNotificationLog({ maxLength: 5 });
    const ids = [];
    for (let n = 1; n <= 5; n++) ids.push((await log.append(to('ash', n)))!);
    // The client saw 1; 2 to 5 are in the log when the resume checks it, and three appends
    // trim 1 to 3 before its read: 2 and 3 are gone.
    const racing = trimmedBeforeRead(log, async () => {
      for (let n = 6; n <= 8; n++) await log.append(to('misty', n));
    });
    expect(await plan(racing, ids[0]!, ids[4]!)).toEqual({ kind: 'recovery', reason: 'trimmed' });
  });

  // A log quiet past its retention trims, on its next append, the entry every connected client
  // holds as its last id: they had it, and nothing after it went.
  it('replays, not recovery, after a quiet log trimmed only the entries up to the id', async () => {
    let now = Date.now();
    const log = new InMemoryNotificationLog({ retentionMs: 60_000, now: () => now });
    await log.append(to('ash', 1));
    const seen = (await log.append(to('ash', 2)))!;
    now += 61_000;
    const next = (await log.append(to('misty', 3)))!;
    expect(await log.oldestId()).toBe(next);
    expect(await plan(log, seen, next)).toEqual({ kind: 'replay', entries: [] });
    const missed = (await log.append(to('ash', 4)))!;
    const resumed = await plan(log, seen, missed);
    expect(resumed.kind === 'replay' && resumed.entries.map((e) => e.id)).toEqual([missed]);
  });

  it('still sends recovery when the trimming took entries after the id', async () => {
    let now = Date.now();
    const log = new InMemoryNotificationLog({ retentionMs: 60_000, now: () => now });
    const seen = (await log.append(to('ash', 1)))!;
    await log.append(to('ash', 2));
    now += 61_000;
    const next = (await log.append(to('misty', 3)))!;
    expect(await plan(log, seen, next)).toEqual({ kind: 'recovery', reason: 'trimmed' });
  });

  it('replays when the trim in between took only entries up to the id', async () => {
    const log = new InMemoryNotificationLog({ maxLength: 5 });
    const ids = [];
    for (let n = 1; n <= 5; n++) ids.push((await log.append(to('ash', n)))!);
    const racing = trimmedBeforeRead(log, async () => {
      await log.append(to('misty', 6)); // trims 1, the client's own
    });
    const resumed = await plan(racing, ids[1]!, ids[4]!);
    expect(resumed.kind === 'replay' && resumed.entries.map((e) => e.id)).toEqual(ids.slice(2));
  });
});
