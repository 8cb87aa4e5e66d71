import { randomUUID } from 'node:crypto';
import { type Notification } from '@causeway/contracts';
import { NotificationDeliveryError } from './notification-delivery.error';
import {
  FOLLOW_READ_MAX_MS,
  type LoggedNotification,
  type NotificationLog,
} from './notification-log.port';

export type NotificationLogFactory = (options: {
  maxLength: number;
  retentionMs: number;
  dedupMs?: number;
  /** The implementations' option of that name: where a follower's failures are told. */
  onFollowError?: (error: Error) => void;
}) => Promise<NotificationLog>;

export interface NotificationLogFeatures {
  /** How many entries above maxLength the log may keep (Redis trims whole stream nodes: 100). */
  trimSlack: number;
}

export function testNotification(overrides: Partial<Notification> = {}): Notification {
  return {
    notificationId: randomUUID(),
    targetType: 'broadcast',
    targetIds: [],
    method: 'position.update',
    params: { trainerId: 'ash', x: 1, y: 2, isMoving: false, dirX: 0, dirY: 0 },
    serverId: 'test',
    ...overrides,
  };
}

async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The contract of NotificationLog (see its doc comment), run against every implementation.
 * `factory` returns a fresh, empty log with the given retention; the suite closes it.
 */
export function describeNotificationLog(
  name: string,
  features: NotificationLogFeatures,
  factory: NotificationLogFactory,
): void {
  describe(`${name} notification log conformance`, () => {
    const logs: NotificationLog[] = [];
    const open = async (maxLength = 10_000, retentionMs = 3_600_000): Promise<NotificationLog> => {
      const log = await factory({ maxLength, retentionMs });
      logs.push(log);
      return log;
    };
    afterEach(async () => {
      await Promise.all(logs.splice(0).map((log) => log.close()));
    });

    it('is empty at first', async () => {
      const log = await open();
      expect(await log.oldestId()).toBeUndefined();
      expect(await log.latestId()).toBeUndefined();
      expect(await log.lastAppendedId()).toBeUndefined();
      expect(await log.read(undefined, 10)).toEqual([]);
    });

    // Redis stored anything and its readers dropped what was no notification, unheard of; the
    // in-memory log handed it to its followers (the gateway's fan-out read fields it lacked).
    it('refuses what is no notification, naming the field, and stores nothing', async () => {
      const log = await open();
      const junk = [
        { ...testNotification(), targetType: 'everyone' },
        { ...testNotification(), params: undefined },
        { ...testNotification(), notificationId: '' },
      ] as unknown as Notification[];
      await expect(log.append(junk[0]!)).rejects.toThrow(/^NotificationLog\.append: targetType: /);
      await expect(log.append(junk[1]!)).rejects.toThrow(/^NotificationLog\.append: params: /);
      await expect(log.append(junk[2]!, { key: 'trainer:ash', version: 1 })).rejects.toThrow(
        /^NotificationLog\.append: notificationId: /,
      );
      expect(await log.latestId()).toBeUndefined();
      expect(await log.lastAppendedId()).toBeUndefined();
      expect(await log.idOf(junk[0]!.notificationId)).toBeUndefined();
      // The order key moved no further: version 1 is still appended.
      expect(
        await log.append(testNotification(), { key: 'trainer:ash', version: 1 }),
      ).toBeDefined();
    });

    it('appends with strictly increasing ids and reads them back in order', async () => {
      const log = await open();
      const sent = Array.from({ length: 25 }, (_, i) =>
        testNotification({ params: { n: i }, targetType: 'user', targetIds: [`u${i % 3}`] }),
      );
      const ids: string[] = [];
      for (const notification of sent) ids.push(await log.append(notification));
      for (let i = 1; i < ids.length; i += 1) {
        expect(log.compare(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
        expect(log.compare(ids[i]!, ids[i - 1]!)).toBeGreaterThan(0);
      }
      expect(log.compare(ids[3]!, ids[3]!)).toBe(0);
      const all = await log.read(undefined, 100);
      expect(all.map((entry) => entry.id)).toEqual(ids);
      expect(all.map((entry) => entry.notification)).toEqual(sent);
      for (const entry of all) expect(Math.abs(entry.at - Date.now())).toBeLessThan(60_000);
      expect(await log.oldestId()).toBe(ids[0]);
      expect(await log.latestId()).toBe(ids[24]);
    });

    it('reads after an id (exclusive) and at most `limit` entries', async () => {
      const log = await open();
      const ids: string[] = [];
      for (let i = 0; i < 10; i += 1) ids.push(await log.append(testNotification()));
      expect((await log.read(ids[3], 4)).map((entry) => entry.id)).toEqual(ids.slice(4, 8));
      expect((await log.read(ids[9], 4)).map((entry) => entry.id)).toEqual([]);
      expect((await log.read(undefined, 2)).map((entry) => entry.id)).toEqual(ids.slice(0, 2));
      expect(await log.read(undefined, 0)).toEqual([]);
    });

    it('stores a notification once and returns the first id for a duplicate', async () => {
      const log = await open();
      const notification = testNotification();
      const first = await log.append(notification);
      const other = await log.append(testNotification());
      expect(await log.append({ ...notification, params: { changed: true } })).toBe(first);
      const again = await Promise.all([log.append(notification), log.append(notification)]);
      expect(again).toEqual([first, first]);
      expect((await log.read(undefined, 10)).map((entry) => entry.id)).toEqual([first, other]);
    });

    it("keeps a key's notifications in version order: a late older one is not appended", async () => {
      const log = await open();
      const order = (version: number, previous?: number) => ({
        key: 'position:ash',
        version,
        ...(previous !== undefined && { previous }),
      });
      const v2 = await log.append(testNotification(), order(2));
      expect(v2).toBeDefined();
      const late = testNotification();
      expect(await log.append(late, order(1))).toBeUndefined();
      expect(await log.append(testNotification(), order(2))).toBeUndefined();
      expect(await log.idOf(late.notificationId)).toBeUndefined();
      // Another key has its own order; an append without an order is not checked.
      expect(
        await log.append(testNotification(), { key: 'position:misty', version: 1 }),
      ).toBeDefined();
      expect(await log.append(testNotification())).toBeDefined();
      const v5 = testNotification();
      const id5 = await log.append(v5, order(5));
      expect(id5).toBeDefined();
      // A duplicate still answers its first id, whatever its order says.
      expect(await log.append(v5, order(5))).toBe(id5);
      expect(await log.append(v5, order(3))).toBe(id5);
      expect(await log.read(undefined, 10)).toHaveLength(4);
    });

    it("appends with `previous` only when the key's newest version is at least that", async () => {
      const log = await open();
      const key = 'position:ash';
      // Unknown key: its newest version is 0.
      expect(
        await log.append(testNotification(), { key, version: 3, previous: 2 }),
      ).toBeUndefined();
      expect(await log.append(testNotification(), { key, version: 1, previous: 0 })).toBeDefined();
      expect(
        await log.append(testNotification(), { key, version: 4, previous: 3 }),
      ).toBeUndefined();
      expect(await log.append(testNotification(), { key, version: 3 })).toBeDefined();
      expect(await log.append(testNotification(), { key, version: 4, previous: 3 })).toBeDefined();
      expect(await log.read(undefined, 10)).toHaveLength(3);
    });

    it("answers each key's newest notification, even once its entry is trimmed", async () => {
      const log = await open(2);
      const at = (x: number) => testNotification({ params: { trainerId: 'ash', x } });
      await log.append(at(1), { key: 'position:ash', version: 1 });
      const newest = at(3);
      const newestId = await log.append(newest, { key: 'position:ash', version: 3 });
      // Refused (older), and appended without an order: neither is the key's newest.
      expect(await log.append(at(2), { key: 'position:ash', version: 2 })).toBeUndefined();
      await log.append(at(4));
      const misty = testNotification({ params: { trainerId: 'misty', x: 9 } });
      await log.append(misty, { key: 'position:misty', version: 7 });
      for (let i = 0; i < 200; i++) await log.append(testNotification());
      const found = await log.newest(['position:ash', 'position:misty', 'position:brock']);
      expect([...found.keys()]).toEqual(['position:ash', 'position:misty']);
      expect(found.get('position:ash')).toEqual({
        id: newestId,
        at: expect.any(Number),
        notification: newest,
        version: 3,
      });
      expect(found.get('position:misty')).toMatchObject({ notification: misty, version: 7 });
      expect(await log.oldestId()).not.toBe(newestId); // trimmed, still answered
      expect(await log.newest([])).toEqual(new Map());
    });

    it('tells the id a notificationId was appended at, and undefined for one never appended', async () => {
      const log = await open();
      const notification = testNotification();
      expect(await log.idOf(notification.notificationId)).toBeUndefined();
      const first = await log.append(notification);
      await log.append(testNotification());
      expect(await log.idOf(notification.notificationId)).toBe(first);
      expect(await log.idOf(testNotification().notificationId)).toBeUndefined();
    });

    it('removes entries by id: reads no longer see them, later ids still increase, a duplicate stays one', async () => {
      const log = await open();
      const [a, b, c] = [testNotification(), testNotification(), testNotification()];
      const ids = [await log.append(a), await log.append(b), await log.append(c)];
      expect(await log.remove([ids[0]!, ids[2]!, '1-0', 'junk'])).toBe(2);
      expect((await log.read(undefined, 10)).map((entry) => entry.id)).toEqual([ids[1]]);
      expect(await log.oldestId()).toBe(ids[1]);
      expect(await log.latestId()).toBe(ids[1]);
      expect(await log.remove([])).toBe(0);
      // The position the log reached stays: a follower may have dispatched the removed newest.
      expect(await log.lastAppendedId()).toBe(ids[2]);
      // Appending a removed notification again stores nothing (its dedup window stays).
      expect(await log.append(c)).toBe(ids[2]);
      const later = await log.append(testNotification());
      expect(log.compare(later, ids[2]!)).toBeGreaterThan(0);
      expect(await log.lastAppendedId()).toBe(later);
      expect((await log.read(undefined, 10)).map((entry) => entry.id)).toEqual([ids[1], later]);
    });

    it('tells well-formed ids from junk', async () => {
      const log = await open();
      const id = await log.append(testNotification());
      expect(log.isId(id)).toBe(true);
      for (const junk of ['', 'abc', '12', '1-2-3', '-1-0', '1-x', '1.5-0'])
        expect(log.isId(junk)).toBe(false);
    });

    it("follows from '$': only entries appended afterwards, in order, each once", async () => {
      const log = await open();
      await log.append(testNotification({ params: { before: true } }));
      const seen: LoggedNotification[] = [];
      const controller = new AbortController();
      const following = log.follow('$', (entries) => void seen.push(...entries), controller.signal);
      // The follower may take a moment to start: append until the first one arrives.
      const appended: string[] = [];
      await until(async () => {
        appended.push(await log.append(testNotification()));
        return seen.length > 0 ? true : undefined;
      }, 'the follower to see a first entry');
      for (let i = 0; i < 30; i += 1) appended.push(await log.append(testNotification()));
      // Until the newest: the first loop may have appended more than one before it saw one.
      const newest = appended[appended.length - 1];
      await until(
        () => (seen.some((entry) => entry.id === newest) ? true : undefined),
        'every entry',
      );
      const seenIds = seen.map((entry) => entry.id);
      expect(new Set(seenIds).size).toBe(seenIds.length);
      expect(seenIds).toEqual(appended.slice(appended.length - seenIds.length));
      expect(seen.every((entry) => entry.notification.params.before === undefined)).toBe(true);
      controller.abort();
      await following;
    });

    it('follows from an id: the retained entries after it, then new ones', async () => {
      const log = await open();
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push(await log.append(testNotification()));
      const seen: string[] = [];
      const controller = new AbortController();
      const following = log.follow(
        ids[1]!,
        (entries) => void seen.push(...entries.map((entry) => entry.id)),
        controller.signal,
      );
      await until(() => (seen.length >= 3 ? true : undefined), 'the retained entries');
      ids.push(await log.append(testNotification()));
      await until(() => (seen.length >= 4 ? true : undefined), 'the new entry');
      expect(seen).toEqual(ids.slice(2));
      controller.abort();
      await following;
    });

    it('tells onRead of every read while idle, at least every FOLLOW_READ_MAX_MS', async () => {
      const log = await open();
      const reads: number[] = [];
      const controller = new AbortController();
      const started = Date.now();
      const following = log.follow(
        '$',
        () => undefined,
        controller.signal,
        () => void reads.push(Date.now()),
      );
      await until(
        () => (reads.length >= 2 ? true : undefined),
        'two reads of an idle log',
        2 * FOLLOW_READ_MAX_MS + 3_000,
      );
      const gaps = [reads[0]! - started, reads[1]! - reads[0]!];
      expect(Math.max(...gaps)).toBeLessThanOrEqual(FOLLOW_READ_MAX_MS + 1_000);
      controller.abort();
      await following;
    }, 20_000);

    it('never overlaps calls of a slow onEntries and resolves after the abort', async () => {
      const log = await open();
      let active = 0;
      let overlapped = false;
      const seen: string[] = [];
      const controller = new AbortController();
      const following = log.follow(
        '0-0',
        async (entries) => {
          active += 1;
          if (active > 1) overlapped = true;
          await new Promise((resolve) => setTimeout(resolve, 30));
          seen.push(...entries.map((entry) => entry.id));
          active -= 1;
        },
        controller.signal,
      );
      const ids: string[] = [];
      for (let i = 0; i < 20; i += 1) ids.push(await log.append(testNotification()));
      await until(() => (seen.length >= 20 ? true : undefined), 'every entry');
      expect(overlapped).toBe(false);
      expect(seen).toEqual(ids);
      controller.abort();
      await expect(following).resolves.toBeUndefined();
    });

    // The in-memory log's follow rejected at the first onEntries that threw, ending the
    // follower (the embedded gateway's, unhandled: the process went down), while Redis' went on
    // (session 47). Every implementation passes that batch over and goes on.
    it('goes on with the next entries when onEntries throws, passing that batch over', async () => {
      const log = await open();
      const seen: string[] = [];
      let throwing = true;
      const controller = new AbortController();
      const following = log.follow(
        '0-0',
        (entries) => {
          if (throwing) {
            throwing = false;
            throw new Error('a bug in onEntries');
          }
          seen.push(...entries.map((entry) => entry.id));
        },
        controller.signal,
      );
      following.catch(() => undefined); // asserted below
      const refused = await log.append(testNotification());
      await until(() => (throwing ? undefined : true), 'the first call of onEntries');
      const next = await log.append(testNotification());
      await until(() => (seen.includes(next) ? true : undefined), 'the entry after the batch');
      expect(seen).not.toContain(refused);
      controller.abort();
      await expect(following).resolves.toBeUndefined();
    });

    // The Redis log told it as it tells a read Redis refused, and the gateway logged it as
    // `notification log read failed`: an operator looked at Redis for a bug of the reader's.
    it('tells onFollowError a NotificationDeliveryError naming the batch it passed over', async () => {
      const errors: Error[] = [];
      const log = await factory({
        maxLength: 10_000,
        retentionMs: 3_600_000,
        onFollowError: (error) => void errors.push(error),
      });
      logs.push(log);
      const bug = new Error('a bug in onEntries');
      const controller = new AbortController();
      const following = log.follow(
        '0-0',
        () => {
          throw bug;
        },
        controller.signal,
      );
      const id = await log.append(testNotification());
      const [error] = await until(() => (errors.length > 0 ? errors : undefined), 'the error');
      expect(error).toBeInstanceOf(NotificationDeliveryError);
      expect(error).toMatchObject({ count: 1, firstId: id, lastId: id, cause: bug });
      expect(error!.message).toBe(
        `onEntries failed on 1 notification(s) (${id}): a bug in onEntries`,
      );
      controller.abort();
      await following;
    });

    // A follower that lagged by more than the retention (a slow `onEntries`, a gateway
    // starved of CPU) went on after the entries the trimming took as if there had been none:
    // every stream of that gateway missed them, unknowing (session 46).
    it('tells onGap when the trimming took entries it had not read, then goes on after them', async () => {
      const maxLength = 20;
      const log = await open(maxLength);
      const first = await log.append(testNotification());
      const seen: string[] = [];
      const gaps: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const controller = new AbortController();
      const following = log.follow(
        '0-0',
        async (entries) => {
          seen.push(...entries.map((entry) => entry.id));
          await held;
        },
        controller.signal,
        undefined,
        (through) => void gaps.push(through),
      );
      await until(() => (seen.length > 0 ? true : undefined), 'the first entry');
      const ids: string[] = [];
      for (let i = 0; i < 300; i += 1) ids.push(await log.append(testNotification()));
      const through = (await log.trimmedThrough())!;
      expect(log.compare(through, first)).toBeGreaterThan(0);
      release();
      await until(() => (seen.includes(ids[299]!) ? true : undefined), 'the newest entry');
      expect(gaps).toEqual([through]);
      // After the gap, the entries the log still held, in order, each once.
      expect(seen).toEqual([first, ...ids.slice(ids.indexOf(through) + 1)]);
      controller.abort();
      await following;
    });

    it('tells no gap to a follower that read what the trimming took', async () => {
      const maxLength = 20;
      const log = await open(maxLength);
      const seen: string[] = [];
      const gaps: string[] = [];
      const controller = new AbortController();
      const following = log.follow(
        '0-0',
        (entries) => void seen.push(...entries.map((entry) => entry.id)),
        controller.signal,
        undefined,
        (through) => void gaps.push(through),
      );
      const ids: string[] = [];
      for (let i = 0; i < 300; i += 1) {
        ids.push(await log.append(testNotification()));
        await until(() => (seen.length === ids.length ? true : undefined), 'the entry');
      }
      expect(await log.trimmedThrough()).toBeDefined();
      expect(seen).toEqual(ids);
      expect(gaps).toEqual([]);
      controller.abort();
      await following;
    });

    it('trims the oldest entries beyond the max length, never the newest', async () => {
      const maxLength = 20;
      const log = await open(maxLength);
      const ids: string[] = [];
      for (let i = 0; i < 300; i += 1) ids.push(await log.append(testNotification()));
      const kept = (await log.read(undefined, 1_000)).map((entry) => entry.id);
      expect(kept.length).toBeGreaterThanOrEqual(maxLength);
      expect(kept.length).toBeLessThanOrEqual(maxLength + features.trimSlack);
      expect(kept).toEqual(ids.slice(ids.length - kept.length));
      expect(await log.oldestId()).toBe(kept[0]);
      expect(await log.latestId()).toBe(ids[299]);
    });

    // A log quiet for longer than its retention trims, on its next append, the entry connected
    // clients hold as their last id: they missed nothing, which the gateway can tell only if the
    // log tells what the trimming took.
    it('tells the newest entry the trimming took: after a quiet spell, the one before the next append', async () => {
      const retentionMs = 300;
      const log = await open(10_000, retentionMs);
      await log.append(testNotification());
      const held = await log.append(testNotification());
      expect(await log.trimmedThrough()).toBeUndefined();
      // Time must pass beyond the retention: nothing happens that could be awaited instead.
      await new Promise((resolve) => setTimeout(resolve, retentionMs + 100));
      const next = await log.append(testNotification());
      expect(await log.oldestId()).toBe(next);
      expect(await log.trimmedThrough()).toBe(held);
      await log.append(testNotification());
      expect(await log.trimmedThrough()).toBe(held);
      // `remove` is no trimming: it never sets it, and once it took the oldest entry the
      // trimming left, the log cannot vouch for what came after the trimmed one.
      await log.remove([next]);
      expect(await log.trimmedThrough()).toBeUndefined();
    });

    it('tells the newest entry the trimming by count took, never one `remove` took', async () => {
      const maxLength = 20;
      const log = await open(maxLength);
      const ids: string[] = [];
      for (let i = 0; i < 20; i += 1) ids.push(await log.append(testNotification()));
      expect(await log.remove([ids[0]!])).toBe(1);
      expect(await log.trimmedThrough()).toBeUndefined();
      for (let i = 0; i < 300; i += 1) ids.push(await log.append(testNotification()));
      const oldest = (await log.oldestId())!;
      expect(await log.trimmedThrough()).toBe(ids[ids.indexOf(oldest) - 1]);
    });

    it('remembers a notification for its dedup window, past the retention', async () => {
      const retentionMs = 300;
      const log = await factory({ maxLength: 10_000, retentionMs, dedupMs: 60_000 });
      logs.push(log);
      const told = testNotification();
      const first = await log.append(told);
      // Time must pass beyond the retention: nothing happens that could be awaited instead.
      await new Promise((resolve) => setTimeout(resolve, retentionMs + 100));
      const later = await log.append(testNotification());
      expect((await log.read(undefined, 10)).map((entry) => entry.id)).toEqual([later]);
      // Told again (a producer's late retry): still a duplicate, nothing reaches the readers.
      expect(await log.append(told)).toBe(first);
      expect(await log.idOf(told.notificationId)).toBe(first);
      expect((await log.read(undefined, 10)).map((entry) => entry.id)).toEqual([later]);
      await expect(
        factory({ maxLength: 10, retentionMs, dedupMs: retentionMs - 1 }),
      ).rejects.toThrow(
        /dedupMs must be whole milliseconds, at least retentionMs \(300\), got 299/,
      );
    });

    // A max length of 0 or a retention of 0 ms or less was taken: the log then lost the entry
    // it stored (in memory, the append threw a TypeError; in Redis, the script failed half-way,
    // the entry kept but its dedup key not written), with errors that named no option.
    it('refuses a retention it cannot keep, naming the option, before anything is stored', async () => {
      const refused: [{ maxLength: number; retentionMs: number }, RegExp][] = [
        [{ maxLength: 0, retentionMs: 1_000 }, /options\.maxLength must be .*, got 0$/],
        [{ maxLength: 2.5, retentionMs: 1_000 }, /options\.maxLength must be .*, got 2\.5$/],
        [{ maxLength: 10, retentionMs: 0 }, /options\.retentionMs must be .*, got 0$/],
        [{ maxLength: 10, retentionMs: -1_000 }, /options\.retentionMs must be .*, got -1000$/],
        [{ maxLength: 10, retentionMs: Number.NaN }, /options\.retentionMs must be .*, got null$/],
      ];
      for (const [options, message] of refused)
        await expect(factory(options)).rejects.toThrow(message);
    });

    it('trims entries older than the retention on append', async () => {
      const retentionMs = 300;
      const log = await open(10_000, retentionMs);
      const old = await log.append(testNotification());
      const started = Date.now();
      // Appending moves the trimming forward; the old entry must go once it is past retention.
      const newest = await until(async () => {
        const id = await log.append(testNotification());
        return (await log.oldestId()) !== old ? id : undefined;
      }, 'the old entry to be trimmed');
      expect(Date.now() - started).toBeGreaterThanOrEqual(retentionMs - 50);
      expect(await log.latestId()).toBe(newest);
      expect(log.compare((await log.oldestId())!, old)).toBeGreaterThan(0);
    });
  });
}
