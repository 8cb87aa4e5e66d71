import type Redis from 'ioredis';
import {
  computeStats,
  matchesFilter,
  replayLetters,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type DeadLetterStats,
  type NewDeadLetter,
  type ReplayResult,
} from '../dead-letters/dead-letter-queue.port';
import { type Publisher } from '../transport/transport.port';

export interface RedisDeadLetterQueueOptions {
  /** Key prefix; streams are `<prefix>dead-letters.<original topic>`. Default ''. */
  keyPrefix?: string;
  /** Approximate cap per stream (MAXLEN ~). Default 100 000. */
  maxLenPerTopic?: number;
}

/**
 * Dead letters in Redis Streams, one stream per original topic (S1-5), durable as the Redis
 * server is. A letter's id is `<topic>|<entry id>`. Listing reads every stream (XRANGE): meant
 * for operators, not hot paths.
 */
export class RedisDeadLetterQueue implements DeadLetterQueue {
  private readonly prefix: string;
  private readonly topicsKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisDeadLetterQueueOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? '';
    this.topicsKey = `${this.prefix}dead-letters:topics`;
  }

  async add(letter: NewDeadLetter): Promise<string> {
    const stream = this.streamOf(letter.originalTopic);
    const results = await this.redis
      .multi()
      .sadd(this.topicsKey, letter.originalTopic)
      .xadd(
        stream,
        'MAXLEN',
        '~',
        String(this.options.maxLenPerTopic ?? 100_000),
        '*',
        'letter',
        JSON.stringify(letter),
      )
      .exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('dead letter was not stored');
    return `${letter.originalTopic}|${results[1]![1] as string}`;
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const topics = filter.originalTopic
      ? [filter.originalTopic]
      : (await this.redis.smembers(this.topicsKey)).sort();
    const letters: DeadLetter[] = [];
    for (const topic of topics) {
      const entries = await this.redis.xrange(this.streamOf(topic), '-', '+');
      for (const [entryId, fields] of entries) {
        const json = fields[fields.indexOf('letter') + 1];
        if (!json) continue;
        const letter: DeadLetter = {
          ...(JSON.parse(json) as NewDeadLetter),
          id: `${topic}|${entryId}`,
        };
        if (matchesFilter(letter, filter)) letters.push(letter);
        if (filter.limit !== undefined && letters.length >= filter.limit) return letters;
      }
    }
    return letters;
  }

  async stats(): Promise<DeadLetterStats> {
    return computeStats(await this.list());
  }

  async replay(filter: DeadLetterFilter, publisher: Publisher): Promise<ReplayResult> {
    return replayLetters(await this.list(filter), publisher, (letter) => this.remove(letter.id));
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const letters = await this.list(filter);
    for (const letter of letters) await this.remove(letter.id);
    return letters.length;
  }

  private async remove(id: string): Promise<void> {
    const separator = id.lastIndexOf('|');
    await this.redis.xdel(this.streamOf(id.slice(0, separator)), id.slice(separator + 1));
  }

  private streamOf(topic: string): string {
    return `${this.prefix}dead-letters.${topic}`;
  }
}
