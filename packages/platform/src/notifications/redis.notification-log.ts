import { setTimeout as delay } from 'node:timers/promises';
import { Notification } from '@causeway/contracts';
import { blockingReadOptions, RedisScript } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import { NotificationDeliveryError } from './notification-delivery.error';
import { checkNotification, compareLogIds, isLogId, logIdTime } from './notification-log.ids';
import {
  dedupWindowOf,
  type NotificationLogRetention,
  retentionOf,
} from './notification-log.options';
import {
  FOLLOW_READ_MAX_MS,
  type LoggedNotification,
  type NewestNotification,
  type NotificationLog,
  type NotificationOrder,
} from './notification-log.port';

// KEYS[1] = stream, KEYS[2] = dedup key, KEYS[3] = what the trimming took, KEYS[4] and KEYS[5]
// (optional) = order key and its newest notification; ARGV[1] = max length, ARGV[2] =
// notification JSON, ARGV[3] = retention ms, ARGV[4] = dedup window ms, ARGV[5] = version,
// ARGV[6] = previous ('' = none; only with an order key). → the new id, the first id when the notification was appended
// before, or nil when the order key refuses it (see NotificationLog.append).
// Time comes from the Redis server (TIME), so ids, ages and trimming use one clock.
// The trimming records `<newest id it took> <oldest id it left>` in KEYS[3] (trimmedThrough):
// XTRIM tells only how many it took, so the script reads the newest one first. By count, it
// trims once the stream is TRIM_SLACK over the max length (as MAXLEN ~ would, whole nodes),
// then exactly down to it: one read of about TRIM_SLACK ids every TRIM_SLACK appends. At most
// TRIM_MAX entries an append, so that a max length lowered a long way (or a stream grown by an
// earlier release) shrinks over several appends instead of one script reading it all while
// Redis serves nothing else.
// By age, it reads the newest entry older than the limit only when the oldest entry is: when no
// entry is older, Redis' XREVRANGE from that bound finds no node to start at and walks the whole
// stream back from its end (2 ms an append on a 30 000-entry log; every append paid it).
const TRIM_SLACK = 100;
export const TRIM_MAX = 1_000;
const APPEND = new RedisScript(`
local first = redis.call('GET', KEYS[2])
if first then return first end
if #KEYS > 3 then
  local newest = tonumber(redis.call('GET', KEYS[4]) or 0)
  if newest >= tonumber(ARGV[5]) then return false end
  if ARGV[6] ~= '' and newest < tonumber(ARGV[6]) then return false end
end
local id = redis.call('XADD', KEYS[1], '*', 'n', ARGV[2])
redis.call('SET', KEYS[2], id, 'PX', ARGV[4])
if #KEYS > 3 then
  redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[3])
  redis.call('SET', KEYS[5], ARGV[5] .. '|' .. id .. '|' .. ARGV[2], 'PX', ARGV[3])
end
local trimmed = false
local now = redis.call('TIME')
local minMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if minMs > 0 and tonumber(string.match(head[1][1], '^%d+')) < minMs then
  local minId = string.format('%d', minMs)
  local older = redis.call('XREVRANGE', KEYS[1], '(' .. minId .. '-0', '-', 'COUNT', 1)
  trimmed = older[1][1]
  redis.call('XTRIM', KEYS[1], 'MINID', minId)
end
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess > ${TRIM_SLACK} then
  local take = math.min(excess, ${TRIM_MAX})
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', take + 1)
  trimmed = oldest[take][1]
  if #oldest > take then
    redis.call('XTRIM', KEYS[1], 'MINID', oldest[take + 1][1])
  else
    redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1])
  end
end
if trimmed then
  local left = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  redis.call('SET', KEYS[3], trimmed .. ' ' .. left[1][1])
end
return id`);

export interface RedisNotificationLogOptions extends NotificationLogRetention {
  /** The app's shared client; `follow` opens its own duplicate (XREAD BLOCK holds a connection). */
  client: Redis;
  /** Prefix of every key (TOPIC_PREFIX + ':' in the apps, a test namespace in tests). */
  keyPrefix?: string;
  /**
   * How long one XREAD blocks before the follower checks its signal again. Default and at most
   * FOLLOW_READ_MAX_MS (5 s): an idle follower tells `onRead` of each empty return.
   */
  blockMs?: number;
  /** Entries per XREAD. Default 500. */
  batchSize?: number;
  /**
   * Called when the follower loses Redis: a read that failed (it retries with backoff) or an
   * error of its own connection (which reconnects by itself); and, with a
   * NotificationDeliveryError, when `onEntries` threw (that batch is passed over, after the same
   * backoff): the reader's fault, not Redis'.
   */
  onFollowError?: (error: Error) => void;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * The notification log on one Redis stream `<prefix>notifications`: appends are one script
 * (dedup key per notificationId with the retention as TTL, the newest version per order key
 * `<prefix>notifications:order:<key>` likewise, and `<version>|<id>|<notification JSON>` in
 * `<prefix>notifications:newest:<key>`, trimming by count and XTRIM MINID by age, recording
 * what it took in `<prefix>notifications:trimmed`);
 * followers use plain XREAD (no consumer group: every gateway reads everything and a dead
 * gateway has nothing left to acknowledge): each read is one round trip, XREAD BLOCK (a batch, or
 * a wait for the next entry) pipelined with what the trimming took (a gap, `onGap`).
 */
export class RedisNotificationLog implements NotificationLog {
  readonly stream: string;
  private readonly dedupPrefix: string;
  private readonly orderPrefix: string;
  private readonly newestPrefix: string;
  private readonly trimmedKey: string;
  private readonly maxLength: number;
  private readonly retentionMs: number;
  private readonly dedupMs: number;
  private readonly blockMs: number;
  private readonly batchSize: number;
  /** How to stop each running `follow`. */
  private readonly followers = new Set<() => void>();

  constructor(private readonly options: RedisNotificationLogOptions) {
    const prefix = options.keyPrefix ?? '';
    this.stream = `${prefix}notifications`;
    this.dedupPrefix = `${prefix}notifications:dedup:`;
    this.orderPrefix = `${prefix}notifications:order:`;
    this.newestPrefix = `${prefix}notifications:newest:`;
    this.trimmedKey = `${prefix}notifications:trimmed`;
    ({ maxLength: this.maxLength, retentionMs: this.retentionMs } = retentionOf(options));
    this.dedupMs = dedupWindowOf(options, this.retentionMs);
    this.blockMs = Math.min(options.blockMs ?? FOLLOW_READ_MAX_MS, FOLLOW_READ_MAX_MS);
    this.batchSize = options.batchSize ?? 500;
  }

  append(notification: Notification): Promise<string>;
  append(notification: Notification, order: NotificationOrder): Promise<string | undefined>;
  async append(notification: Notification, order?: NotificationOrder): Promise<string | undefined> {
    checkNotification(notification);
    const keys = [this.stream, this.dedupPrefix + notification.notificationId, this.trimmedKey];
    const args = [
      String(this.maxLength),
      JSON.stringify(notification),
      String(this.retentionMs),
      String(this.dedupMs),
    ];
    if (order) {
      keys.push(this.orderPrefix + order.key, this.newestPrefix + order.key);
      args.push(String(order.version), order.previous === undefined ? '' : String(order.previous));
    }
    const id = (await APPEND.run(this.options.client, keys, args)) as string | null;
    return id ?? undefined;
  }

  async idOf(notificationId: string): Promise<string | undefined> {
    return (await this.options.client.get(this.dedupPrefix + notificationId)) ?? undefined;
  }

  async newest(keys: readonly string[]): Promise<Map<string, NewestNotification>> {
    const found = new Map<string, NewestNotification>();
    // MGET in slices: one round trip for a few hundred keys, no huge reply for many. With each
    // newest entry, its order key: an instance of a release before `newest` appends moving the
    // order key only, and its entry is then older than the key says (left out: not the newest).
    for (let i = 0; i < keys.length; i += 250) {
      const slice = keys.slice(i, i + 250);
      const values = await this.options.client.mget(
        slice.flatMap((key) => [this.newestPrefix + key, this.orderPrefix + key]),
      );
      slice.forEach((key, index) => {
        const value = values[2 * index];
        // `<version>|<id>|<notification JSON>`
        const [version, id] = value?.split('|', 2) ?? [];
        if (!value || id === undefined || !isLogId(id)) return;
        if (Number(values[2 * index + 1] ?? 0) > Number(version)) return;
        try {
          const json = value.slice(version!.length + id.length + 2);
          const parsed = Notification.safeParse(JSON.parse(json));
          if (parsed.success)
            found.set(key, {
              id,
              at: logIdTime(id),
              notification: parsed.data,
              version: Number(version),
            });
        } catch {
          // not JSON: left out, as read() leaves out an entry it cannot parse
        }
      });
    }
    return found;
  }

  async read(afterId: string | undefined, limit: number): Promise<LoggedNotification[]> {
    if (limit <= 0) return [];
    const start = afterId === undefined ? '-' : `(${afterId}`;
    const entries = (await this.options.client.xrange(
      this.stream,
      start,
      '+',
      'COUNT',
      limit,
    )) as StreamEntry[];
    return decode(entries);
  }

  async follow(
    afterId: string | '$',
    onEntries: (entries: LoggedNotification[]) => Promise<void> | void,
    signal: AbortSignal,
    onRead?: () => void,
    onGap?: (through: string) => void,
  ): Promise<void> {
    // A dedicated connection: XREAD BLOCK would stall every other command on a shared one.
    // A blocked XREAD keeps the socket busy: destroy it soon after an abort instead of ioredis' 2 s.
    const reader = this.options.client.duplicate({
      maxRetriesPerRequest: null,
      disconnectTimeout: 100,
      // Bounded by BLOCK (the client's command timeout would cut the read); a connection
      // silent past BLOCK and the client's silence timeout is replaced.
      ...blockingReadOptions(this.options.client, this.blockMs),
    });
    // Stopping must not wait for the reader: `disconnect()` while ioredis waits to reconnect (Redis
    // gone after the reader connected) only cancels the reconnect and settles no queued command,
    // and with `maxRetriesPerRequest: null` an XREAD queued then would wait for ever. So every
    // wait below also ends when `stopped` aborts (by the caller's signal or by `close`).
    const stopping = new AbortController();
    const stopped = stopping.signal;
    // Its own connection's errors (it reconnects by itself) are the follower's: one that cannot
    // connect while the shared client can (maxclients reached) would otherwise wait unheard.
    reader.on('error', (error: Error) => {
      if (!stopped.aborted) this.options.onFollowError?.(error);
    });
    const stop = (): void => {
      stopping.abort();
      reader.disconnect();
    };
    signal.addEventListener('abort', stop, { once: true });
    if (signal.aborted) stopping.abort();
    this.followers.add(stop);
    let backoffMs = 100;
    try {
      // '$' is resolved once to the newest id: re-sending '$' on every XREAD would skip
      // whatever was appended between two reads.
      let last = afterId === '$' ? await this.latestOrZero(reader, stopped) : afterId;
      while (!stopped.aborted) {
        try {
          const [trimmed, read] = await untilAborted(this.readAfter(reader, last), stopped);
          backoffMs = 100;
          onRead?.();
          let raw = read;
          // The trimming took entries after `last` before this follower read them (it lags by
          // more than the retention). Told, never passed over; what the read returned at or
          // before the record (trimmed since the read) is past the gap too.
          if (trimmed !== undefined && compareLogIds(trimmed, last) > 0) {
            last = trimmed;
            onGap?.(trimmed);
            raw = raw.filter(([id]) => compareLogIds(id, trimmed) > 0);
          }
          if (raw.length === 0) continue;
          last = raw[raw.length - 1]![0];
          const entries = decode(raw);
          if (entries.length > 0)
            try {
              await onEntries(entries);
            } catch (error) {
              throw new NotificationDeliveryError(entries, error);
            }
        } catch (error) {
          if (stopped.aborted) break;
          this.options.onFollowError?.(error as Error);
          await sleep(backoffMs, stopped);
          backoffMs = Math.min(backoffMs * 2, 5_000);
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      this.followers.delete(stop);
      reader.disconnect();
    }
  }

  async remove(ids: readonly string[]): Promise<number> {
    // Only well-formed ids: XDEL refuses the whole call for one that is not a stream id.
    const valid = ids.filter((id) => isLogId(id));
    return valid.length === 0 ? 0 : this.options.client.xdel(this.stream, ...valid);
  }

  async oldestId(): Promise<string | undefined> {
    const [first] = (await this.options.client.xrange(
      this.stream,
      '-',
      '+',
      'COUNT',
      1,
    )) as StreamEntry[];
    return first?.[0];
  }

  async latestId(): Promise<string | undefined> {
    const [last] = (await this.options.client.xrevrange(
      this.stream,
      '+',
      '-',
      'COUNT',
      1,
    )) as StreamEntry[];
    return last?.[0];
  }

  async lastAppendedId(): Promise<string | undefined> {
    // The stream's last-generated-id survives XDEL and trimming; the key is gone with the data.
    let info: unknown[];
    try {
      info = (await this.options.client.xinfo('STREAM', this.stream)) as unknown[];
    } catch (error) {
      if (/no such key/i.test((error as Error).message)) return undefined;
      throw error;
    }
    const at = info.indexOf('last-generated-id');
    const id = at >= 0 ? info[at + 1] : undefined;
    return typeof id === 'string' && isLogId(id) && id !== '0-0' ? id : undefined;
  }

  async trimmedThrough(): Promise<string | undefined> {
    // `<newest id trimmed> <oldest id left>`, vouched for only while that is still the oldest
    // (NotificationLog): no key (none trimmed, or lost with the data), or an instance of an
    // earlier release trimmed since without recording it, or `remove` took the oldest.
    const [recorded, oldest] = await Promise.all([
      this.options.client.get(this.trimmedKey),
      this.oldestId(),
    ]);
    const [id, left] = recorded?.split(' ') ?? [];
    return id !== undefined && isLogId(id) && oldest !== undefined && left === oldest
      ? id
      : undefined;
  }

  compare(a: string, b: string): number {
    return compareLogIds(a, b);
  }

  isId(id: string): boolean {
    return isLogId(id);
  }

  /** Stops every follower (their `follow` calls resolve); the shared client stays open. */
  async close(): Promise<void> {
    for (const stop of [...this.followers]) stop();
  }

  /**
   * The entries after `last` (a batch; XREAD BLOCK waits for one when there are none yet), and
   * after them, in the same round trip, the newest entry the trimming took (its record, whether or
   * not it still vouches: see trimmedThrough). Read after the entries, the record is at least what
   * it was when they were read: a trimming that took entries after `last` before the read shows.
   */
  private async readAfter(
    reader: Redis,
    last: string,
  ): Promise<[trimmed: string | undefined, entries: StreamEntry[]]> {
    const results = await reader
      .pipeline()
      .xread('COUNT', this.batchSize, 'BLOCK', this.blockMs, 'STREAMS', this.stream, last)
      .get(this.trimmedKey)
      .exec();
    if (!results) throw new Error(`notification log: the read of ${this.stream} was discarded`);
    const [[readError, reply], [recordError, recorded]] = results as [
      [Error | null, [string, StreamEntry[]][] | null],
      [Error | null, string | null],
    ];
    if (readError) throw readError;
    if (recordError) throw recordError;
    const trimmed = recorded?.split(' ')[0];
    return [trimmed !== undefined && isLogId(trimmed) ? trimmed : undefined, reply?.[0]?.[1] ?? []];
  }

  private async latestOrZero(reader: Redis, stopped: AbortSignal): Promise<string> {
    for (let attempt = 0; !stopped.aborted; attempt += 1) {
      try {
        const [last] = (await untilAborted(
          reader.xrevrange(this.stream, '+', '-', 'COUNT', 1),
          stopped,
        )) as StreamEntry[];
        return last?.[0] ?? '0-0';
      } catch (error) {
        if (stopped.aborted) return '0-0';
        this.options.onFollowError?.(error as Error);
        if (attempt >= 50) throw error;
        await sleep(100, stopped);
      }
    }
    return '0-0';
  }
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts (`promise` may
 * then never settle: see `follow`).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}

/** Entries whose payload is not a notification are skipped (never delivered, never fatal). */
function decode(raw: StreamEntry[]): LoggedNotification[] {
  const entries: LoggedNotification[] = [];
  for (const [id, fields] of raw) {
    const index = fields.indexOf('n');
    if (index < 0) continue;
    try {
      const parsed = Notification.safeParse(JSON.parse(fields[index + 1] ?? ''));
      if (parsed.success) entries.push({ id, at: logIdTime(id), notification: parsed.data });
    } catch {
      // not JSON
    }
  }
  return entries;
}
