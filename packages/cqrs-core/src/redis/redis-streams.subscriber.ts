import { shownValue } from '../config/shown-value';
import { warnOfTrimming } from './redis-streams.trimming';
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { type RedisOptions } from 'ioredis';
import { type HealthProbe } from '../health/health-probe.port';
import {
  type DeliveryHandler,
  type SubscribeOptions,
  type Subscriber,
  type SubscriptionHandle,
} from '../transport/transport.port';
import { checkSubscribeOptions } from '../transport/subscribe-options.check';
import { blockingReadOptions, neverSendFailed } from './redis.connection';
import { TransportClosedError } from './redis-streams.errors';
import { StreamKeys } from './redis-streams.keys';
import { checkRedisClient } from './redis.client-check';
import { checkSerializerOption } from '../transport/transport-options.check';
import { type SubscriberMetrics, subscriberMetrics } from './redis-streams.metrics';
import {
  type RedisStreamsSubscriberOptions,
  type SubscriptionTiming,
  subscriptionTiming,
} from './redis-streams.options';
import { StreamsSubscription } from './redis-streams.subscription';

/**
 * Consumes Redis Streams through consumer groups (see StreamsSubscription for ownership and order).
 *
 * Contract (see Subscriber): at-least-once per group; a key's messages one after another in
 * publish order within a group, also across consumers; acknowledged (XACK) only after the
 * handler resolved; a failed delivery is delivered again after `redeliveryDelayMs` with a higher
 * attempt; a dead consumer's entries go to a live consumer after its lease lapses and
 * `claimIdleMs`; undecodable entries go to `onPoison` and are acknowledged.
 *
 * Trimming (the publisher's `maxLenPerStream`) may remove a failed entry from its stream before
 * its retry: Redis then drops it from the group's pending list. The subscription holding it
 * runs it again from its copy, and first keeps that copy in Redis
 * (`<prefix><topic>:group:<group>:trimmed:<partition>`) until a handler succeeds — so a crash,
 * `kill()`, `close()` or a rebalance before then does not lose it: the partition's next owner
 * adopts it (at once after a clean hand-over, else once idle `claimIdleMs`) and runs it at its
 * next attempt, before newer entries. Only entries no consumer held when trimmed (a dead
 * consumer's unread backlog) are lost; those are reported (`onTrimmed`).
 *
 * Connections: one command connection per subscriber (acks, leases, claims) and one per
 * subscription that spends its time blocked in XREADGROUP, all duplicated from `client` — so a
 * blocking read never delays an ack. Hazard: do not give a client with ioredis' own `keyPrefix`
 * option; use `keyPrefix` here.
 */
export class RedisStreamsSubscriber implements Subscriber {
  private readonly keys: StreamKeys;
  private readonly timing: SubscriptionTiming;
  private readonly metrics: SubscriberMetrics | undefined;
  private readonly subscriptions = new Set<StreamsSubscription>();
  private readonly readers = new Set<Redis>();
  private command: Redis | undefined;
  private closed = false;

  /**
   * @throws TypeError naming `client` or `serializer` when it is missing or not an ioredis client
   *   / a MessageSerializer, or a timing setting (`redeliveryDelayMs`, `heartbeatMs`, …) or
   *   `prefetch` it cannot use (subscriptionTiming)
   * @throws RangeError when `leaseTtlMs` is below 2 × `heartbeatMs`
   */
  constructor(private readonly options: RedisStreamsSubscriberOptions) {
    for (const name of ['client', 'serializer'] as const) {
      if (!options?.[name]) {
        throw new TypeError(
          `RedisStreamsSubscriber: options.${name} is required, got ${shownValue(options?.[name])}`,
        );
      }
    }
    // A Kafka client, a connection (not its .client) or a serializer without its methods failed
    // only at the first XADD, XREADGROUP or message.
    checkRedisClient(options.client, 'RedisStreamsSubscriber', 'options.client');
    checkSerializerOption('RedisStreamsSubscriber', options.serializer);
    this.keys = new StreamKeys(options);
    this.timing = subscriptionTiming(options);
    this.metrics = options.registry ? subscriberMetrics(options.registry) : undefined;
  }

  decodes(type: string): boolean {
    return this.options.serializer.has?.(type) ?? true;
  }

  async subscribe(
    topics: readonly string[],
    options: SubscribeOptions,
    handler: DeliveryHandler,
  ): Promise<SubscriptionHandle> {
    if (this.closed) throw new TransportClosedError('RedisStreamsSubscriber');
    // Topics too: its streams are named after them, and `:normal:<n>` is read by no publish.
    checkSubscribeOptions('RedisStreamsSubscriber.subscribe', topics, options);
    this.command ??= this.connection({ enableAutoPipelining: true });
    // Blocking reads are bounded by BLOCK: no command timeout (the client's would cut them),
    // and a silence timeout that allows BLOCK (a dead connection is still replaced).
    const reader = this.connection(blockingReadOptions(this.options.client, this.timing.blockMs));
    // A read the subscription failed when its connection closed is never written again on the
    // next one (see StreamsSubscription.readLoop), whatever client it was given.
    neverSendFailed(reader);
    this.readers.add(reader);
    const subscription = new StreamsSubscription({
      topics,
      options,
      handler,
      keys: this.keys,
      timing: this.timing,
      serializer: this.options.serializer,
      onPoison: this.options.onPoison,
      onTrimmed: this.options.onTrimmed ?? warnOfTrimming,
      onAdopted: this.options.onAdopted,
      command: this.command,
      reader,
      token: `${options.consumer}#${randomUUID()}`,
      metrics: this.metrics,
    });
    this.subscriptions.add(subscription);
    const close = async () => {
      await subscription.close();
      this.subscriptions.delete(subscription);
      this.readers.delete(reader);
    };
    try {
      await subscription.start();
    } catch (error) {
      await close();
      throw this.closed ? new TransportClosedError('RedisStreamsSubscriber') : error;
    }
    // close() came while it joined, and closed it with the others: a handle would look live and
    // deliver nothing (it resolved so until session 45; Kafka's subscribe() fails alike).
    if (this.closed) {
      await close();
      throw new TransportClosedError('RedisStreamsSubscriber');
    }
    return { close };
  }

  /**
   * A connection of its own, duplicated from `client`. ioredis emits 'error' on every failed
   * reconnect, and an 'error' without a listener is printed (or would crash Node); the failures
   * reach the subscription anyway, as the commands waiting on the connection fail.
   */
  private connection(override: RedisOptions): Redis {
    const connection = this.options.client.duplicate(override);
    connection.on('error', () => undefined);
    return connection;
  }

  /**
   * A readiness probe (critical) that every subscription of this subscriber makes progress: it
   * fails, saying which group, consumer and partitions and the last error, while a partition
   * assigned to a subscription has not been active for `stuckAfterMs`, or its heartbeats or reads
   * have failed for that long (see StreamsSubscription.problem). Answers from memory: no Redis
   * round trip (the connection's own probe checks that Redis answers). After Redis lost its
   * data the subscriptions recreate their groups by themselves; this probe is down only if they
   * cannot. Register it with the service's probes, e.g. next to streamsLayoutProbe.
   */
  probe(name = 'redis-streams'): HealthProbe & { critical: true } {
    return {
      name,
      critical: true,
      check: async () => {
        const now = Date.now();
        const problems: string[] = [];
        for (const subscription of this.subscriptions) {
          const problem = subscription.problem(now);
          if (problem) problems.push(problem);
        }
        if (problems.length > 0) {
          throw new Error(`cannot make progress: ${problems.join('; ')}`);
        }
      },
    };
  }

  /**
   * Closes every subscription gracefully, then the connections. Safe to call twice. A
   * subscribe() still joining fails with TransportClosedError, its subscription closed too.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    this.subscriptions.clear();
    const command = this.command;
    this.command = undefined;
    // QUIT would wait in the offline queue while Redis is unreachable: just drop the socket then.
    if (command?.status === 'ready') await command.quit().catch(() => command.disconnect());
    else command?.disconnect();
  }

  /**
   * Simulates a crash of this process (tests, chaos drills): drops every connection at once;
   * nothing in flight is acknowledged and no lease is released, so the group recovers as from a
   * dead consumer. Unusable afterwards.
   */
  kill(): void {
    this.closed = true;
    for (const subscription of this.subscriptions) subscription.kill();
    this.subscriptions.clear();
    for (const reader of this.readers) reader.disconnect();
    this.command?.disconnect();
    this.command = undefined;
  }
}
