import type Redis from 'ioredis';
import { ReplyError } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import { addConsumerLagSource } from '../metrics/consumer-lag.gauge';
import { StreamKeys } from './redis-streams.keys';
import { pairs, unreadRemoved } from './redis-streams.trimming';
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
  /** Entries not delivered to the group yet (XINFO GROUPS `lag` less `trimmed`, Redis ≥ 7). */
  lag: number;
  /**
   * False when Redis did not say how many entries the group has yet to read on some stream
   * (no `lag` before Redis 7; a null one after certain deletions): `lag` then counts those
   * streams as 0.
   */
  lagKnown: boolean;
  /**
   * Entries trimming removed before the group read them, which its next read skips (see
   * redis-streams.trimming.ts; Redis ≥ 7). Above 0, messages are being lost: the group lags
   * by more than `maxLenPerStream`. A loss Redis cannot count is reported as 1.
   */
  trimmed: number;
}

/**
 * Pending and undelivered entries per topic and consumer group, summed over lanes and
 * partitions. Leaves out the fan-out groups whose instance is gone (no heartbeat for the
 * subscriber's memberTtlMs: see isFanOutGroup): nobody will read them, and their lag would only
 * grow until a subscriber of the topic destroys them (fanOutGroupIdleMs later); an instance that
 * comes back under the same id heartbeats and is reported again.
 */
export async function redisStreamsLag(
  client: Redis,
  layout: RedisStreamsLayout,
  topics: readonly string[],
): Promise<GroupLag[]> {
  const keys = new StreamKeys(layout);
  const totals = new Map<string, GroupLag>();
  for (const topic of topics) {
    const streams = keys.streamsOf(topic);
    const pipeline = client.pipeline();
    for (const stream of streams) {
      pipeline.xinfo('GROUPS', stream);
      pipeline.xinfo('STREAM', stream);
    }
    pipeline.time();
    pipeline.zrange(keys.fanOutGroups(topic), 0, -1, 'WITHSCORES');
    const replies = (await pipeline.exec()) ?? [];
    const gone = goneFanOutGroups(replies.at(-2), replies.at(-1));
    for (let s = 0; s < streams.length; s++) {
      const [error, groups] = replies[2 * s] ?? [];
      if (error) {
        // Redis's answer: the stream does not exist (yet), or the key is not a stream.
        if (error instanceof ReplyError) continue;
        // No answer (a timeout, a lost connection) is not "no groups": no figures at all.
        throw error;
      }
      const [streamError, streamReply] = replies[2 * s + 1] ?? [];
      const stream = streamError ? new Map<string, unknown>() : pairs(streamReply);
      for (const raw of groups as unknown[][]) {
        const info = pairs(raw);
        const group = String(info.get('name'));
        if (gone.has(group)) continue;
        const key = `${topic}\u0000${group}`;
        const total = totals.get(key) ?? {
          topic,
          group,
          pending: 0,
          lag: 0,
          lagKnown: true,
          trimmed: 0,
        };
        total.pending += Number(info.get('pending') ?? 0);
        // Redis' lag counts the entries trimmed unread too: they will never be delivered.
        const trimmed = unreadRemoved(stream, info);
        const lag = info.get('lag');
        if (lag === undefined || lag === null) total.lagKnown = false;
        total.lag += Math.max(0, Number(lag ?? 0) - (trimmed ?? 0));
        total.trimmed += trimmed ?? 1;
        totals.set(key, total);
      }
    }
  }
  return [...totals.values()];
}

/** The registered fan-out groups alive until before Redis' TIME (see StreamKeys.fanOutGroups). */
function goneFanOutGroups(
  time: [Error | null, unknown] | undefined,
  registry: [Error | null, unknown] | undefined,
): Set<string> {
  const gone = new Set<string>();
  if (!time || time[0] || !registry || registry[0] || !Array.isArray(registry[1])) return gone;
  const [seconds, micros] = (time[1] as unknown[]).map(Number) as [number, number];
  const now = seconds * 1000 + Math.floor(micros / 1000);
  const list = registry[1] as unknown[];
  for (let i = 0; i + 1 < list.length; i += 2) {
    if (Number(list[i + 1]) < now) gone.add(String(list[i]));
  }
  return gone;
}

/** A registration's figures, at most 500 ms old (see registerRedisStreamsLag). */
type LagQuery = () => Promise<GroupLag[]>;

/** One layout on one Redis server, registered on a registry: the topics of every registration of it. */
interface LagLayout {
  readonly topics: Set<() => readonly string[]>;
  readonly refresh: LagQuery;
}

/** Per registry: its layouts (see layoutIdentity), and the sources of its pending and trimmed-unread gauges. */
const redisLagSources = new WeakMap<
  Registry,
  { layouts: Map<string, LagLayout>; sources: LagQuery[] }
>();

/**
 * Which server and streams a registration reports: two registrations with the same identity (a
 * Nest module initialised twice, two routers of one app, with one client or two to one server)
 * report the same streams, so they share one query (their topics merged) — else a scrape would
 * ask Redis twice and the series of those streams would be summed twice.
 */
function layoutIdentity(options: RedisStreamsLagOptions): string {
  const { host, port, path, db, name, sentinels } = options.client.options ?? {};
  const server = sentinels?.length
    ? `sentinel:${String(name)}`
    : path
      ? `unix:${path}`
      : `${host}:${port}`;
  const keys = new StreamKeys(options);
  return [server, db ?? 0, keys.prefix, keys.partitions, keys.lanes.join(',')].join('\u0000');
}

/**
 * Rows of several sources summed per topic and group: two key prefixes (or servers) with a
 * topic and a group of the same names are two sets of streams, whose entries add up — one
 * source's figure must not overwrite the other's.
 */
function summed(rows: readonly GroupLag[]): GroupLag[] {
  const totals = new Map<string, GroupLag>();
  for (const row of rows) {
    const key = `${row.topic}\u0000${row.group}`;
    const total = totals.get(key);
    if (!total) totals.set(key, { ...row });
    else {
      total.pending += row.pending;
      total.lag += row.lag;
      total.trimmed += row.trimmed;
      total.lagKnown &&= row.lagKnown;
    }
  }
  return [...totals.values()];
}

/**
 * The layouts and sources of `registry`'s `causeway_consumer_pending` and
 * `causeway_consumer_trimmed_unread` gauges, made with them on first use: a second
 * registerRedisStreamsLag on one registry (two key prefixes or Redis servers in one app) adds its
 * groups instead of failing the start with "already registered" (a review, session 35).
 */
function redisLagGauges(registry: Registry): {
  layouts: Map<string, LagLayout>;
  sources: LagQuery[];
} {
  let state = redisLagSources.get(registry);
  if (state) return state;
  const all: LagQuery[] = [];
  state = { layouts: new Map(), sources: all };
  redisLagSources.set(registry, state);
  const rows = async () => summed((await Promise.all(all.map((source) => source()))).flat());
  new Gauge({
    name: 'causeway_consumer_pending',
    help: 'Entries delivered to a consumer group and not acknowledged',
    labelNames: ['topic', 'group'],
    registers: [registry],
    async collect() {
      const values = await rows();
      this.reset();
      for (const row of values) this.set({ topic: row.topic, group: row.group }, row.pending);
    },
  });
  new Gauge({
    name: 'causeway_consumer_trimmed_unread',
    help: 'Entries trimmed from the streams before a consumer group read them (it skips them)',
    labelNames: ['topic', 'group'],
    registers: [registry],
    async collect() {
      const values = await rows();
      this.reset();
      for (const row of values) this.set({ topic: row.topic, group: row.group }, row.trimmed);
    },
  });
  return state;
}

/**
 * Registers `causeway_consumer_pending`, `causeway_consumer_lag` and
 * `causeway_consumer_trimmed_unread` gauges (S1-10), computed at
 * scrape time from XINFO GROUPS. A scrape costs one pipelined round trip per topic. A group
 * that is destroyed, or a fan-out group whose instance is gone, has no series any more. While
 * Redis does not answer, the gauges keep the last figures it gave. Called again on the same
 * registry: for another key prefix or server, the gauges report both (a topic and group named
 * alike in both: their figures summed); for the same server and layout (a module initialised
 * twice), its topics join the first registration's — each stream is queried and counted once.
 */
export function registerRedisStreamsLag(options: RedisStreamsLagOptions): void {
  const state = redisLagGauges(options.registry);
  const identity = layoutIdentity(options);
  const known = state.layouts.get(identity);
  if (known) {
    known.topics.add(options.topics);
    return;
  }
  const topicSources = new Set([options.topics]);
  const topics = () => [...new Set([...topicSources].flatMap((source) => source()))];
  const latest = { at: 0, values: [] as GroupLag[] };
  let inFlight: Promise<GroupLag[]> | undefined;
  const query = async () => {
    try {
      latest.values = await redisStreamsLag(options.client, options, topics());
      latest.at = Date.now();
    } catch {
      // Redis does not answer: the last figures stay, rather than every series going (the
      // lag alerts would resolve during the outage); causeway_connection_up and
      // /health/ready report the outage itself.
    } finally {
      inFlight = undefined;
    }
    return latest.values;
  };
  const refresh = async () => {
    // The three gauges are collected concurrently in one scrape: they share one query (the
    // one in flight, or figures under 500 ms old), so a scrape costs one round trip per topic.
    if (Date.now() - latest.at <= 500) return latest.values;
    inFlight ??= query();
    return inFlight;
  };
  state.layouts.set(identity, { topics: topicSources, refresh });
  state.sources.push(refresh);
  // One gauge per registry, shared with other transports' groups (registerKafkaLag).
  addConsumerLagSource(options.registry, async () =>
    (await refresh()).map(({ topic, group, lag }) => ({ topic, group, lag })),
  );
}
