import { Notification } from '@causeway/contracts';
import type Redis from 'ioredis';
import { compareLogIds, isLogId, logIdTime } from './notification-log.ids';
import {
  DEFAULT_LOG_MAX_LENGTH,
  DEFAULT_LOG_RETENTION_MS,
  type NotificationLogRetention,
} from './notification-log.options';
import { type LoggedNotification, type NotificationLog } from './notification-log.port';

// KEYS[1] = stream, KEYS[2] = dedup key; ARGV[1] = max length, ARGV[2] = notification JSON,
// ARGV[3] = retention ms. → the new id, or the first id when the notification was appended before.
// Time comes from the Redis server (TIME), so ids, ages and trimming use one clock.
const APPEND = `
local first = redis.call('GET', KEYS[2])
if first then return first end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'n', ARGV[2])
redis.call('SET', KEYS[2], id, 'PX', ARGV[3])
local now = redis.call('TIME')
local minMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
if minMs > 0 then redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', minMs)) end
return id`;

export interface RedisNotificationLogOptions extends NotificationLogRetention {
  /** The app's shared client; `follow` opens its own duplicate (XREAD BLOCK holds a connection). */
  client: Redis;
  /** Prefix of every key (TOPIC_PREFIX + ':' in the apps, a test namespace in tests). */
  keyPrefix?: string;
  /** How long one XREAD blocks before the follower checks its signal again. Default 5 s. */
  blockMs?: number;
  /** Entries per XREAD. Default 500. */
  batchSize?: number;
  /** Called when the follower loses Redis; it retries with backoff. */
  onFollowError?: (error: Error) => void;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * The notification log on one Redis stream `<prefix>notifications`: appends are one script
 * (dedup key per notificationId with the retention as TTL, XADD MAXLEN ~, XTRIM MINID by age);
 * followers use plain XREAD BLOCK (no consumer group: every gateway reads everything and a dead
 * gateway has nothing left to acknowledge).
 */
export class RedisNotificationLog implements NotificationLog {
  readonly stream: string;
  private readonly dedupPrefix: string;
  private readonly maxLength: number;
  private readonly retentionMs: number;
  private readonly blockMs: number;
  private readonly batchSize: number;
  private readonly followers = new Set<Redis>();

  constructor(private readonly options: RedisNotificationLogOptions) {
    const prefix = options.keyPrefix ?? '';
    this.stream = `${prefix}notifications`;
    this.dedupPrefix = `${prefix}notifications:dedup:`;
    this.maxLength = options.maxLength ?? DEFAULT_LOG_MAX_LENGTH;
    this.retentionMs = options.retentionMs ?? DEFAULT_LOG_RETENTION_MS;
    this.blockMs = options.blockMs ?? 5_000;
    this.batchSize = options.batchSize ?? 500;
  }

  async append(notification: Notification): Promise<string> {
    return (await this.options.client.eval(
      APPEND,
      2,
      this.stream,
      this.dedupPrefix + notification.notificationId,
      String(this.maxLength),
      JSON.stringify(notification),
      String(this.retentionMs),
    )) as string;
  }

  async idOf(notificationId: string): Promise<string | undefined> {
    return (await this.options.client.get(this.dedupPrefix + notificationId)) ?? undefined;
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
  ): Promise<void> {
    // A dedicated connection: XREAD BLOCK would stall every other command on a shared one.
    // A blocked XREAD keeps the socket busy: destroy it soon after an abort instead of ioredis' 2 s.
    const reader = this.options.client.duplicate({
      maxRetriesPerRequest: null,
      disconnectTimeout: 100,
      commandTimeout: undefined, // bounded by BLOCK; the client's timeout would cut the read
    });
    reader.on('error', () => undefined);
    this.followers.add(reader);
    const stop = (): void => reader.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    let backoffMs = 100;
    try {
      // '$' is resolved once to the newest id: re-sending '$' on every XREAD would skip
      // whatever was appended between two reads.
      let last = afterId === '$' ? await this.latestOrZero(reader, signal) : afterId;
      while (!signal.aborted) {
        try {
          const reply = (await reader.xread(
            'COUNT',
            this.batchSize,
            'BLOCK',
            this.blockMs,
            'STREAMS',
            this.stream,
            last,
          )) as [string, StreamEntry[]][] | null;
          backoffMs = 100;
          const raw = reply?.[0]?.[1] ?? [];
          if (raw.length === 0) continue;
          last = raw[raw.length - 1]![0];
          const entries = decode(raw);
          if (entries.length > 0) await onEntries(entries);
        } catch (error) {
          if (signal.aborted) break;
          this.options.onFollowError?.(error as Error);
          await new Promise((resolve) => setTimeout(resolve, backoffMs));
          backoffMs = Math.min(backoffMs * 2, 5_000);
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      this.followers.delete(reader);
      reader.disconnect();
    }
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

  compare(a: string, b: string): number {
    return compareLogIds(a, b);
  }

  isId(id: string): boolean {
    return isLogId(id);
  }

  /** Stops every follower (their `follow` calls resolve); the shared client stays open. */
  async close(): Promise<void> {
    for (const reader of this.followers) reader.disconnect();
    this.followers.clear();
  }

  private async latestOrZero(reader: Redis, signal: AbortSignal): Promise<string> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const [last] = (await reader.xrevrange(this.stream, '+', '-', 'COUNT', 1)) as StreamEntry[];
        return last?.[0] ?? '0-0';
      } catch (error) {
        if (signal.aborted) return '0-0';
        this.options.onFollowError?.(error as Error);
        if (attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
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
