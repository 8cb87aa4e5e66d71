import type Redis from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import { StreamKeys } from './redis-streams.keys';
import { type RedisStreamsLayout } from './redis-streams.options';

export interface RedisStreamsLagOptions extends RedisStreamsLayout {
  client: Redis;
  registry: Registry;
  /** The topics to report; their streams are every lane × partition. */
  topics: () => readonly string[];
}

export interface GroupLag {
  topic: string;
  group: string;
  /** Entries delivered to a consumer and not acknowledged yet. */
  pending: number;
  /** Entries not delivered to the group yet (XINFO GROUPS `lag`, Redis ≥ 7). */
  lag: number;
}

/** Pending and undelivered entries per topic and consumer group, summed over lanes and partitions. */
export async function redisStreamsLag(
  client: Redis,
  layout: RedisStreamsLayout,
  topics: readonly string[],
): Promise<GroupLag[]> {
  const keys = new StreamKeys(layout);
  const totals = new Map<string, GroupLag>();
  for (const topic of topics) {
    const streams = keys.lanes.flatMap((lane) =>
      Array.from({ length: keys.partitions }, (_, p) => keys.stream(topic, lane, p)),
    );
    const pipeline = client.pipeline();
    for (const stream of streams) pipeline.xinfo('GROUPS', stream);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error, groups] of replies) {
      if (error) continue; // the stream does not exist (yet)
      for (const raw of groups as unknown[][]) {
        const info = new Map<string, unknown>();
        for (let i = 0; i + 1 < raw.length; i += 2) info.set(String(raw[i]), raw[i + 1]);
        const group = String(info.get('name'));
        const key = `${topic}\u0000${group}`;
        const total = totals.get(key) ?? { topic, group, pending: 0, lag: 0 };
        total.pending += Number(info.get('pending') ?? 0);
        total.lag += Number(info.get('lag') ?? 0);
        totals.set(key, total);
      }
    }
  }
  return [...totals.values()];
}

/**
 * Registers `causeway_consumer_pending` and `causeway_consumer_lag` gauges (S1-10), computed at
 * scrape time from XINFO GROUPS. A scrape costs one pipelined round trip per topic.
 */
export function registerRedisStreamsLag(options: RedisStreamsLagOptions): void {
  const latest = { at: 0, values: [] as GroupLag[] };
  const refresh = async () => {
    // Both gauges are collected in one scrape: query once.
    if (Date.now() - latest.at > 500) {
      latest.values = await redisStreamsLag(options.client, options, options.topics());
      latest.at = Date.now();
    }
    return latest.values;
  };
  new Gauge({
    name: 'causeway_consumer_pending',
    help: 'Entries delivered to a consumer group and not acknowledged',
    labelNames: ['topic', 'group'],
    registers: [options.registry],
    async collect() {
      this.reset();
      for (const row of await refresh())
        this.set({ topic: row.topic, group: row.group }, row.pending);
    },
  });
  new Gauge({
    name: 'causeway_consumer_lag',
    help: 'Entries not yet delivered to a consumer group',
    labelNames: ['topic', 'group'],
    registers: [options.registry],
    async collect() {
      this.reset();
      for (const row of await refresh()) this.set({ topic: row.topic, group: row.group }, row.lag);
    },
  });
}
