import { shownValue } from '../config/shown-value';
import { RedisScript } from './redis.script';
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { type MessageSerializer } from '../messages/serializer.port';
import {
  claimLeaseOf,
  countLetter,
  DeadLetterCursorError,
  emptyStats,
  replayLetters,
  matchingPages,
  withTypeNames,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type DeadLetterStats,
  type NewDeadLetter,
  type ReplayClaims,
  type ReplayResult,
} from '../dead-letters/dead-letter-queue.port';
import { checkDeadLetterFilter, checkNewDeadLetter } from '../dead-letters/dead-letter-queue.rules';
import { type Publisher } from '../transport/transport.port';
import { checkRedisClient } from './redis.client-check';

export interface RedisDeadLetterQueueOptions {
  /** Key prefix; streams are `<prefix>dead-letters.<original topic>`. Default ''. */
  keyPrefix?: string;
  /**
   * Approximate cap per stream (MAXLEN ~): beyond it Redis drops the **oldest letters**, never
   * replayed. Default: no cap (a dead letter stays until it is replayed or purged; watch
   * `stats()` and the dead-lettered counter instead).
   * @throws TypeError (constructor) when given and not a positive integer
   */
  maxLenPerTopic?: number;
  /**
   * Entries read per round trip (XRANGE … COUNT) by list, stats, replay and purge, and removed
   * per XDEL by purge: their memory is bounded by a page. Default 500.
   */
  pageSize?: number;
  /**
   * The registry: a `type` filter then also matches the type's former names, and a replay
   * upcasts letters written at an older schema version of their type (upcastLetterEnvelope).
   * Pass it: without it, letters of an older release cannot be replayed once their type's
   * version was bumped (a publisher's registry refuses their data as current).
   */
  serializer?: MessageSerializer;
  /**
   * How long a replay's claim on a letter lasts (ms: the claim key's PX) unless the letter is
   * removed or given back first. Default DEFAULT_CLAIM_LEASE_MS.
   * @throws TypeError (constructor) when given and not a positive integer
   */
  claimLeaseMs?: number;
}

// KEYS[1] = claim key; ARGV[1] = the replay's token. Deletes only this replay's own claim.
const RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** A page of letters of one topic, with the entry ids they were read from. */
interface Page {
  readonly stream: string;
  readonly letters: readonly DeadLetter[];
}

/**
 * Dead letters in Redis Streams, one stream per original topic (S1-5), durable as the Redis
 * server is. A letter's id is `<topic>|<entry id>`. list, stats, replay and purge read the
 * streams a page at a time (XRANGE … COUNT `pageSize`) up to the entries that were there when
 * they reached the stream; purge removes a page's letters with one XDEL. A replay claims a
 * letter with `SET <prefix>dead-letters:claim:<letter id> <token> NX PX <claimLeaseMs>` (then
 * checks that the entry is still there), gives it back with a compare-and-DEL and removes it
 * with XDEL, counting it only when XDEL removed it. Meant for operators, not hot paths.
 */
export class RedisDeadLetterQueue implements DeadLetterQueue {
  private readonly prefix: string;
  private readonly topicsKey: string;
  private readonly pageSize: number;
  private readonly claimLeaseMs: number;

  /** @throws TypeError when `pageSize` or `claimLeaseMs` is not a positive integer */
  constructor(
    private readonly redis: Redis,
    private readonly options: RedisDeadLetterQueueOptions = {},
  ) {
    checkRedisClient(redis, 'RedisDeadLetterQueue', 'its first argument');
    this.prefix = options.keyPrefix ?? '';
    this.topicsKey = `${this.prefix}dead-letters:topics`;
    this.pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1)
      throw new TypeError(
        `RedisDeadLetterQueue: options.pageSize must be a positive integer, got ${shownValue(options.pageSize)}`,
      );
    this.claimLeaseMs = claimLeaseOf('RedisDeadLetterQueue', options.claimLeaseMs);
    const cap = options.maxLenPerTopic;
    if (cap !== undefined && (!Number.isInteger(cap) || cap < 1))
      throw new TypeError(
        `RedisDeadLetterQueue: options.maxLenPerTopic must be a positive integer, got ${shownValue(cap)}`,
      );
  }

  async add(letter: NewDeadLetter): Promise<string> {
    checkNewDeadLetter(letter);
    const stream = this.streamOf(letter.originalTopic);
    const cap = this.options.maxLenPerTopic;
    const trim = cap === undefined ? [] : ['MAXLEN', '~', String(cap)];
    const results = await this.redis
      .multi()
      .sadd(this.topicsKey, letter.originalTopic)
      .xadd(stream, ...trim, '*', 'letter', JSON.stringify(letter))
      .exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('dead letter was not stored');
    return `${letter.originalTopic}|${results[1]![1] as string}`;
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    checkDeadLetterFilter(filter);
    filter = withTypeNames(filter, this.options.serializer);
    const letters: DeadLetter[] = [];
    for await (const letter of this.matching(filter)) letters.push(letter);
    return letters;
  }

  async stats(): Promise<DeadLetterStats> {
    const stats = emptyStats();
    for await (const page of this.pages({}))
      for (const letter of page.letters) countLetter(stats, letter);
    return stats;
  }

  async replay(filter: DeadLetterFilter, publisher: Publisher): Promise<ReplayResult> {
    checkDeadLetterFilter(filter);
    filter = withTypeNames(filter, this.options.serializer);
    return replayLetters(
      this.matching(filter),
      publisher,
      this.claimsFor(randomUUID()),
      this.options.serializer,
    );
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    checkDeadLetterFilter(filter);
    filter = withTypeNames(filter, this.options.serializer);
    let purged = 0;
    for await (const { page, letters } of matchingPages(
      this.pages(filter),
      (page) => page.letters,
      filter,
    )) {
      // What XDEL removed: a replay running meanwhile may have removed some (not counted twice).
      purged += await this.redis.xdel(
        page.stream,
        ...letters.map((letter) => entryIdOf(letter.id)),
      );
    }
    return purged;
  }

  /** The letters `filter` matches, read lazily, stopping at `limit`. */
  private async *matching(filter: DeadLetterFilter): AsyncGenerator<DeadLetter> {
    for await (const { letters } of matchingPages(
      this.pages(filter),
      (page) => page.letters,
      filter,
    ))
      yield* letters;
  }

  /**
   * Every letter of the topics `filter` may match, a page per round trip, in list order. Each
   * stream is read up to its last entry when the scan reaches it: a letter added meanwhile (a
   * replayed message dead-lettered again) is not read, so a replay cannot chase its own tail.
   */
  private async *pages(filter: DeadLetterFilter): AsyncGenerator<Page> {
    const after = filter.after === undefined ? undefined : cursorOf(filter.after);
    const topics = (
      filter.originalTopic
        ? [filter.originalTopic]
        : (await this.redis.smembers(this.topicsKey)).sort()
    ).filter(
      (topic) =>
        after === undefined || topic > after.topic || (topic === after.topic && !after.last),
    );
    for (const topic of topics) {
      const stream = this.streamOf(topic);
      const last = await this.redis.xrevrange(stream, '+', '-', 'COUNT', 1);
      const end = last[0]?.[0];
      if (end === undefined) continue;
      let start = after?.topic === topic ? `(${after.entryId}` : '-';
      for (;;) {
        const entries: [string, string[]][] = await this.redis.xrange(
          stream,
          start,
          end,
          'COUNT',
          this.pageSize,
        );
        const letters: DeadLetter[] = [];
        for (const [entryId, fields] of entries) {
          const json = fields[fields.indexOf('letter') + 1];
          if (!json) continue;
          letters.push({ ...(JSON.parse(json) as NewDeadLetter), id: `${topic}|${entryId}` });
        }
        if (letters.length > 0) yield { stream, letters };
        const lastRead: string | undefined = entries[entries.length - 1]?.[0];
        if (entries.length < this.pageSize || lastRead === end) break;
        start = `(${lastRead}`;
      }
    }
  }

  /** A replay's claims, under its `token`. */
  private claimsFor(token: string): ReplayClaims {
    return {
      claim: async ({ id }) => {
        const key = this.claimKeyOf(id);
        if ((await this.redis.set(key, token, 'PX', this.claimLeaseMs, 'NX')) !== 'OK')
          return false;
        const entry = entryIdOf(id);
        if ((await this.redis.xrange(this.streamOfId(id), entry, entry)).length > 0) return true;
        // Replayed or purged since it was read.
        await RELEASE.run(this.redis, [key], [token]);
        return false;
      },
      release: async ({ id }) => {
        await RELEASE.run(this.redis, [this.claimKeyOf(id)], [token]);
      },
      // Once the entry is gone the claim guards nothing: deleted whoever holds it.
      remove: async ({ id }) => {
        const removed = await this.redis.xdel(this.streamOfId(id), entryIdOf(id));
        await this.redis.del(this.claimKeyOf(id));
        return removed > 0;
      },
    };
  }

  private claimKeyOf(id: string): string {
    return `${this.prefix}dead-letters:claim:${id}`;
  }

  /** The stream of a letter id (`<topic>|<entry id>`). */
  private streamOfId(id: string): string {
    return this.streamOf(id.slice(0, id.lastIndexOf('|')));
  }

  private streamOf(topic: string): string {
    return `${this.prefix}dead-letters.${topic}`;
  }
}

/** A letter id as a position in list order. @throws DeadLetterCursorError for no letter id */
function cursorOf(id: string): { topic: string; entryId: string; last: boolean } {
  const bar = id.lastIndexOf('|');
  const match = /^([0-9]{1,20})-([0-9]{1,20})$/.exec(id.slice(bar + 1));
  const [ms, seq] = match ? [BigInt(match[1]!), BigInt(match[2]!)] : [];
  if (bar < 1 || ms === undefined || seq === undefined || ms > MAX_ID_PART || seq > MAX_ID_PART)
    throw new DeadLetterCursorError(id, '<topic>|<stream entry id>');
  // The greatest entry id has nothing after it (Redis refuses it as an exclusive start).
  return {
    topic: id.slice(0, bar),
    entryId: `${ms}-${seq}`,
    last: ms === MAX_ID_PART && seq === MAX_ID_PART,
  };
}

/** Each part of a stream entry id is an unsigned 64-bit integer. */
const MAX_ID_PART = 2n ** 64n - 1n;

/** The stream entry id of a letter id (`<topic>|<entry id>`). */
function entryIdOf(id: string): string {
  return id.slice(id.lastIndexOf('|') + 1);
}
