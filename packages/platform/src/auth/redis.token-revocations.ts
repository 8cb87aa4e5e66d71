import { RedisScript } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import {
  type RedisChannelSubscription,
  subscribeRedisChannel,
} from '../redis/redis-channel.subscription';
import { type RevocationListener, type TokenRevocations } from './token-revocations.port';

/**
 * KEYS[1] = the revocations hash, KEYS[2] = its index by cut; ARGV[1] = userId, ARGV[2] = at,
 * ARGV[3] = channel, ARGV[4] = reason ('' for none). Keeps the later cut, indexes it, and tells
 * every instance the one that holds, with the reason.
 */
const REVOKE = new RedisScript(`
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
local at = tonumber(ARGV[2])
if current and current >= at then at = current end
redis.call('HSET', KEYS[1], ARGV[1], at)
redis.call('ZADD', KEYS[2], at, ARGV[1])
redis.call('PUBLISH', ARGV[3], cjson.encode({ARGV[1], at, ARGV[4]}))
return at`);

/**
 * KEYS[1] = the revocations hash, KEYS[2] = its index by cut, KEYS[3] = the keeps instances
 * asked for; ARGV[1] = keepMs, ARGV[2] = at most this many. Records this instance's keepMs
 * (until keepMs from now), then drops the cuts older than the longest keep recorded (so an
 * instance with a shorter JWT_MAX_LIFETIME_S never drops a cut another still needs), by Redis'
 * clock, oldest first; a user whose hash field holds a later cut than the index (written by a
 * release before the index) is re-indexed instead. Returns {looked at, dropped, hash fields,
 * index entries, the keep applied}.
 */
const PRUNE = new RedisScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local mine = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%d', now))
local until_ = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[1]) or '0')
if until_ < now + mine then redis.call('ZADD', KEYS[3], string.format('%d', now + mine), ARGV[1]) end
local keep = mine
for _, asked in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if tonumber(asked) > keep then keep = tonumber(asked) end
end
redis.call('PEXPIRE', KEYS[3], keep)
local horizon = now - keep
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%d', horizon), 'LIMIT', 0, tonumber(ARGV[2]))
local dropped = 0
for _, user in ipairs(old) do
  local at = tonumber(redis.call('HGET', KEYS[1], user))
  if at and at >= horizon then
    redis.call('ZADD', KEYS[2], at, user)
  else
    redis.call('HDEL', KEYS[1], user)
    redis.call('ZREM', KEYS[2], user)
    dropped = dropped + 1
  end
end
return {#old, dropped, redis.call('HLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]), keep}`);

/**
 * KEYS[1] = the revocations hash, KEYS[2] = its index by cut; ARGV[1] = HSCAN cursor,
 * ARGV[2] = COUNT. Indexes one batch of the hash's fields by their cut (the hash decides).
 * Returns the next cursor ('0' when done).
 */
const INDEX = new RedisScript(`
local page = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[2]))
local fields = page[2]
for i = 1, #fields, 2 do
  local at = tonumber(fields[i + 1])
  if at then redis.call('ZADD', KEYS[2], at, fields[i]) end
end
return page[1]`);

/** How many cuts one PRUNE or INDEX call handles: each call blocks Redis ~3 ms (measured). */
const BATCH = 500;

/**
 * Revocations in Redis: a hash `<prefix>auth:revoked` userId → cut (epoch ms), and a channel of
 * the same name that tells every instance of each new cut. Each instance keeps a copy: loaded
 * at start and again whenever its subscriber connection (a connection of its own) is ready
 * after a reconnect, so a cut published while it was cut off is not missed. Without `keepMs`
 * the hash keeps one small field per user ever revoked. The copy is also reloaded every
 * `refreshMs`, which bounds how late a cut can arrive.
 *
 * With `keepMs`, a sorted set `<prefix>auth:revoked:by-cut` indexes the hash by cut, and each
 * reload first drops the cuts older than that (by Redis' clock, in batches of BATCH) from both:
 * the hash then holds the revocations of the last `keepMs`, which every instance reads every
 * `refreshMs`, instead of every revocation ever made. Instances configured with different
 * keeps (JWT_MAX_LIFETIME_S differs, in a rolling change of it, say) drop only what is older
 * than the longest: each records its keep in `<prefix>auth:revoked:keeps` at every reload, for
 * that long, so a shorter keep applies once no instance asked for a longer one for as long as
 * it lasts. Hash fields written by a release before the index (more fields than index entries)
 * are indexed by the reload that notices.
 */
export class RedisTokenRevocations implements TokenRevocations {
  readonly key: string;
  /** The hash's index by cut (see the class comment). */
  readonly indexKey: string;
  /** The keepMs each instance asked for, until when (see the class comment). */
  readonly keepsKey: string;
  private readonly copy = new Map<string, number>();
  /** One entry per onRevoked call (the same function given twice is told twice). */
  private readonly listeners = new Set<RevocationListener>();
  private subscription: RedisChannelSubscription | undefined;
  ready = false;

  constructor(
    private readonly client: Redis,
    options: {
      keyPrefix?: string;
      /** How often the copy is reloaded whatever the channel said. Default 30 000 ms. */
      refreshMs?: number;
      /** How long a cut is kept (see TokenRevocations). Default for ever. */
      keepMs?: number;
      onError?: (message: string) => void;
      /** Told what a reload dropped or indexed, when it did (an info line). */
      onInfo?: (message: string) => void;
    } = {},
  ) {
    this.key = `${options.keyPrefix ?? ''}auth:revoked`;
    this.indexKey = `${this.key}:by-cut`;
    this.keepsKey = `${this.key}:keeps`;
    this.refreshMs = options.refreshMs ?? 30_000;
    this.keepMs = options.keepMs ?? Infinity;
    this.onError = options.onError ?? (() => undefined);
    this.onInfo = options.onInfo ?? (() => undefined);
  }

  private readonly refreshMs: number;
  private readonly keepMs: number;
  private readonly onError: (message: string) => void;
  private readonly onInfo: (message: string) => void;
  private refresher: NodeJS.Timeout | undefined;

  async revoke(userId: string, at = Date.now(), reason?: string): Promise<void> {
    const cut = Number(
      await REVOKE.run(
        this.client,
        [this.key, this.indexKey],
        [userId, at, this.key, reason ?? ''],
      ),
    );
    this.apply(userId, cut, reason);
  }

  revokedUntil(userId: string): number | undefined {
    const cut = this.copy.get(userId);
    return cut !== undefined && cut >= Date.now() - this.keepMs ? cut : undefined;
  }

  /** Subscribes and loads the copy; call again after a failure (Redis unreachable). */
  async start(): Promise<void> {
    const subscription = (this.subscription ??= subscribeRedisChannel(this.client, this.key, {
      connectionName: 'auth:revoked',
      onMessage: (text) => this.heard(text),
      // After a reconnect: what was published while it was away is in the hash.
      onReady: () => {
        if (this.ready) void this.load().catch((error: Error) => this.onError(error.message));
      },
    }));
    try {
      await subscription.subscribed;
    } catch (error) {
      if (this.subscription === subscription) this.subscription = undefined;
      throw error;
    }
    // Subscribed first, loaded second: a cut published in between is in one or the other.
    await this.load();
    // A reconnect's reload may run before the channel is subscribed again: a cut published in
    // that gap is picked up here at the latest.
    this.refresher ??= setInterval(
      () => void this.load().catch((error: Error) => this.onError(error.message)),
      this.refreshMs,
    ).unref();
  }

  async close(): Promise<void> {
    clearInterval(this.refresher);
    this.refresher = undefined;
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close();
  }

  /** A message on the channel: `[userId, cut, reason]`. */
  private heard(text: string): void {
    try {
      const [userId, at, reason] = JSON.parse(text) as [unknown, unknown, unknown];
      if (typeof userId === 'string' && typeof at === 'number')
        return this.apply(userId, at, typeof reason === 'string' && reason ? reason : undefined);
    } catch {
      // Reported below.
    }
    this.onError(`ignored a malformed revocation: ${text.slice(0, 200)}`);
  }

  private async load(): Promise<void> {
    if (this.keepMs !== Infinity) await this.prune();
    const all = await this.client.hgetall(this.key);
    const horizon = Date.now() - this.keepMs;
    for (const [userId, at] of Object.entries(all))
      if (Number(at) >= horizon) this.apply(userId, Number(at));
    for (const [userId, cut] of this.copy) if (cut < horizon) this.copy.delete(userId);
    this.ready = true;
  }

  /** Drops the cuts older than keepMs from Redis, indexing unindexed ones first. */
  private async prune(): Promise<void> {
    let indexed = false;
    let dropped = 0;
    const began = Date.now();
    for (;;) {
      const [batch, gone, fields, entries, keep] = (await PRUNE.run(
        this.client,
        [this.key, this.indexKey, this.keepsKey],
        [this.keepMs, BATCH],
      )) as [number, number, number, number, number];
      dropped += gone;
      if (batch === BATCH) continue;
      if (fields <= entries || indexed) {
        if (dropped > 0)
          this.onInfo(
            `dropped ${dropped} revocation(s) older than ${keep} ms, which refuse nothing any more (${fields} kept, ${Date.now() - began} ms)`,
          );
        return;
      }
      // Fields without an entry: written before the index, or by an instance of that release.
      this.onInfo(
        `indexing ${fields - entries} revocation(s) by their cut (written before the index)`,
      );
      let cursor = '0';
      do cursor = String(await INDEX.run(this.client, [this.key, this.indexKey], [cursor, BATCH]));
      while (cursor !== '0');
      indexed = true;
    }
  }

  onRevoked(listener: RevocationListener): () => void {
    const entry: RevocationListener = (userId, cut, reason) => listener(userId, cut, reason);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  private apply(userId: string, at: number, reason?: string): void {
    if (!Number.isFinite(at)) return;
    if (at <= (this.copy.get(userId) ?? -Infinity)) return;
    this.copy.set(userId, at);
    for (const listener of this.listeners) listener(userId, at, reason);
  }
}
