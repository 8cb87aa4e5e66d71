import type Redis from 'ioredis';
import {
  type RedisChannelSubscription,
  subscribeRedisChannel,
} from '../redis/redis-channel.subscription';
import { type RevocationListener, type TokenRevocations } from './token-revocations.port';

/**
 * KEYS[1] = the revocations hash; ARGV[1] = userId, ARGV[2] = at, ARGV[3] = channel,
 * ARGV[4] = reason ('' for none). Keeps the later cut, and tells every instance the one that
 * holds, with the reason.
 */
const REVOKE = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
local at = tonumber(ARGV[2])
if current and current >= at then at = current end
redis.call('HSET', KEYS[1], ARGV[1], at)
redis.call('PUBLISH', ARGV[3], cjson.encode({ARGV[1], at, ARGV[4]}))
return at`;

/**
 * Revocations in Redis: a hash `<prefix>auth:revoked` userId → cut (epoch ms), and a channel of
 * the same name that tells every instance of each new cut. Each instance keeps a copy: loaded
 * at start and again whenever its subscriber connection (a connection of its own) is ready
 * after a reconnect, so a cut published while it was cut off is not missed. The hash keeps one
 * small field per user ever revoked (nothing expires it: it is the record of who was cut off).
 * The copy is also reloaded every `refreshMs`, which bounds how late a cut can arrive.
 */
export class RedisTokenRevocations implements TokenRevocations {
  readonly key: string;
  private readonly copy = new Map<string, number>();
  private readonly listeners: RevocationListener[] = [];
  private subscription: RedisChannelSubscription | undefined;
  ready = false;

  constructor(
    private readonly client: Redis,
    options: {
      keyPrefix?: string;
      /** How often the copy is reloaded whatever the channel said. Default 30 000 ms. */
      refreshMs?: number;
      onError?: (message: string) => void;
    } = {},
  ) {
    this.key = `${options.keyPrefix ?? ''}auth:revoked`;
    this.refreshMs = options.refreshMs ?? 30_000;
    this.onError = options.onError ?? (() => undefined);
  }

  private readonly refreshMs: number;
  private readonly onError: (message: string) => void;
  private refresher: NodeJS.Timeout | undefined;

  async revoke(userId: string, at = Date.now(), reason?: string): Promise<void> {
    const cut = Number(
      await this.client.eval(REVOKE, 1, this.key, userId, at, this.key, reason ?? ''),
    );
    this.apply(userId, cut, reason);
  }

  revokedUntil(userId: string): number | undefined {
    return this.copy.get(userId);
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
    const all = await this.client.hgetall(this.key);
    for (const [userId, at] of Object.entries(all)) this.apply(userId, Number(at));
    this.ready = true;
  }

  onRevoked(listener: RevocationListener): void {
    this.listeners.push(listener);
  }

  private apply(userId: string, at: number, reason?: string): void {
    if (!Number.isFinite(at)) return;
    if (at <= (this.copy.get(userId) ?? -Infinity)) return;
    this.copy.set(userId, at);
    for (const listener of this.listeners) listener(userId, at, reason);
  }
}
