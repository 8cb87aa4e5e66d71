import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { contractsSerializer } from '@causeway/contracts';
import {
  type HealthProbe,
  type ManagedConnection,
  type MessagingMetrics,
  type Publisher,
} from '@causeway/cqrs-core';
import {
  BUS_PUBLISHER,
  CqrsCoreModule,
  DeadLettersAdminModule,
  HEALTH_PROBES,
  MESSAGING_METRICS,
} from '@causeway/cqrs-core/nest';
import {
  RedisDeadLetterQueue,
  RedisDeduplicationStore,
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  registerRedisStreamsLag,
  streamsLayoutProbe,
} from '@causeway/cqrs-core/redis';
import { poisonToDeadLetters, Router } from '@causeway/cqrs-core';
import { TracedPublisher, tracing } from '@causeway/cqrs-core/opentelemetry';
import { type Registry } from 'prom-client';
import type Redis from 'ioredis';
import { COMMAND_TOPICS } from './command-topics';
import {
  type MessagingConfig,
  streamMaxLengths,
  subscriptionCloseTimeoutMs,
} from './messaging.settings';
import { keyPrefixOf } from './service.wiring';
import { replayPublisher } from './dead-letters/replay.routes';
import { TracingModule } from './telemetry/tracing.module';
import { type ServerClock } from './clock/server.clock';
import { adminRefusals } from './auth/admin.refusals';
import { type TrustedProxies } from './http/trusted.proxies';

export interface RedisMessagingOptions {
  service: string;
  instanceId: string;
  config: MessagingConfig;
  /** The app's shared Redis connection (opened by CausewayServiceModule). */
  redis: ManagedConnection<Redis>;
  /** The app's metrics registry: consumer lag and pending gauges are added to it. */
  registry: Registry;
  /**
   * Entries kept per stream of these event types' topics, where not REDIS_STREAMS_MAX_LENGTH:
   * e.g. fewer for events nothing in the deployment reads for long.
   */
  maxLengthByEventType?: Readonly<Record<string, number>>;
  /**
   * The clock commands' deadlines are checked against: give the one the app stamps its own
   * messages with (a ServerClock over the same Redis). Default: this host's clock.
   */
  clock?: ServerClock;
  /**
   * Whose `X-Forwarded-For` names the client (TRUST_PROXY) of a request without the admin
   * token, charged to that address (see adminRefusals). Default: no one's (the peer).
   */
  trustedProxies?: TrustedProxies;
  /**
   * Topics this app reads from another broker than the Redis Streams bus (order-processor's
   * Kafka order topic), each with a publisher to that broker: their dead letters are replayed
   * through it (/admin/dead-letters, the dead-letters CLI), back where their consumer reads, and
   * counted in causeway_messages_published_total like the bus's. Every other topic's replay
   * goes out on the bus. The app owns these publishers (closes them). Default: none.
   */
  replayRoutes?: Readonly<Record<string, Publisher>>;
}

/**
 * The reference system's messaging: command and event buses over Redis Streams (a trainer's
 * commands share one topic, COMMAND_TOPICS), dead letters and deduplication in Redis (shared by
 * every instance), undecodable messages dead-lettered, and /admin/dead-letters behind ADMIN_TOKEN;
 * deliveries and sends traced with OpenTelemetry when an OTLP endpoint is set (TracingModule).
 */
const CONSUMER_LAG = Symbol('causeway:consumer-lag');
const STREAMS_LAYOUT = Symbol('causeway:streams-layout');

@Module({})
export class RedisMessagingModule {
  static forRoot(options: RedisMessagingOptions): DynamicModule {
    const { config, redis, clock } = options;
    const serializer = contractsSerializer();
    const keyPrefix = keyPrefixOf(config);
    const layout = {
      keyPrefix,
      partitions: config.REDIS_STREAMS_PARTITIONS,
      priorities: config.REDIS_STREAMS_PRIORITIES,
    };
    const deadLetters = new RedisDeadLetterQueue(redis.client, { keyPrefix, serializer });
    // Spans `send <topic>` (a no-op unless TracingModule registered an SDK; see tracing.settings).
    const publisher = new TracedPublisher(
      new RedisStreamsPublisher({
        ...layout,
        client: redis.client,
        serializer,
        maxLenPerStream: streamMaxLengths(config, options.maxLengthByEventType),
      }),
      { system: 'redis' },
    );
    const subscriber = new RedisStreamsSubscriber({
      client: redis.client,
      ...layout,
      serializer,
      leaseTtlMs: config.REDIS_STREAMS_LEASE_MS,
      claimIdleMs: config.REDIS_STREAMS_CLAIM_IDLE_MS,
      closeTimeoutMs: subscriptionCloseTimeoutMs(config),
      // Counted with the handlers' dead letters (MessagingMetrics registers the counter). A
      // command sent by request() that this release cannot read is answered at once.
      onPoison: poisonToDeadLetters(deadLetters, {
        registry: options.registry,
        replies: publisher,
      }),
      // A dead instance's backlog runs first here, at its next attempt: say so, once per take-over.
      onAdopted: ({ topic, partition, group, entries }) =>
        new Logger('RedisStreams').log(
          `took over ${entries} pending entr${entries === 1 ? 'y' : 'ies'} of ${topic} ` +
            `partition ${partition} (group ${group}) left by a previous owner: they run first`,
        ),
    });
    return {
      module: RedisMessagingModule,
      providers: [
        {
          provide: STREAMS_LAYOUT,
          inject: [HEALTH_PROBES],
          useFactory: (probes: HealthProbe[]) => {
            // Readiness fails while this app's stream layout differs from the deployment's.
            probes.push(
              streamsLayoutProbe(redis.client, {
                ...layout,
                hint:
                  'Set REDIS_STREAMS_PARTITIONS and REDIS_STREAMS_PRIORITIES alike in every app ' +
                  '(to change them: drain the streams, then delete that key).',
              }),
              // Readiness fails while a subscription cannot make progress (partitions that
              // stay inactive, reads or heartbeats that keep failing), naming why.
              subscriber.probe(),
            );
            return true;
          },
        },
        {
          provide: CONSUMER_LAG,
          inject: [Router],
          useFactory: (router: Router) =>
            registerRedisStreamsLag({
              client: redis.client,
              registry: options.registry,
              ...layout,
              topics: () => router.topics(),
            }),
        },
      ],
      imports: [
        TracingModule.forRoot({ service: options.service, instanceId: options.instanceId }),
        CqrsCoreModule.forRoot({
          service: options.service,
          instanceId: options.instanceId,
          publisher,
          subscriber,
          serializer,
          // A span `process <topic>` per delivery, around metrics, retries and dead letters.
          middleware: [tracing({ system: 'redis' })],
          topicPrefix: config.TOPIC_PREFIX,
          // A trainer's commands share one topic, handled in send order.
          commandTopics: COMMAND_TOPICS,
          deadLetters,
          deduplication: new RedisDeduplicationStore(redis.client, { keyPrefix }),
          deduplicationLeaseMs: config.DEDUP_LEASE_MS,
          retry: { maxAttempts: config.MAX_RETRIES + 1 },
          commandTimeoutMs: config.COMMAND_TIMEOUT_MS,
          commandClockSkewMs: config.COMMAND_CLOCK_SKEW_MS,
          ...(clock && { commandClock: () => clock.now() }),
          eventTimeoutMs: config.EVENT_TIMEOUT_MS,
        }),
        // Replays go out through the bus's publisher (counted like every publish), but a topic
        // of `replayRoutes` through its own: its consumer reads it from that broker only. The
        // order topic, read from Kafka by order-processor alone, is refused unless routed:
        // on the Redis bus nothing would read it and the order would be lost (replayPublisher).
        // A wrong or missing token costs the client address (429 beyond ADMIN_REFUSALS).
        DeadLettersAdminModule.forRootAsync({
          inject: [BUS_PUBLISHER, { token: MESSAGING_METRICS, optional: true }],
          useFactory: (bus: Publisher, metrics?: MessagingMetrics) => ({
            token: config.ADMIN_TOKEN,
            queue: deadLetters,
            publisher: replayPublisher(
              bus,
              config.TOPIC_PREFIX,
              Object.fromEntries(
                Object.entries(options.replayRoutes ?? {}).map(([topic, publisher]) => [
                  topic,
                  metrics ? metrics.instrument(publisher) : publisher,
                ]),
              ),
            ),
            refused: adminRefusals({
              redis: redis.client,
              keyPrefix,
              ...(options.trustedProxies && { proxies: options.trustedProxies }),
              warn: (message) => new Logger('AdminToken').warn(message),
              info: (message) => new Logger('AdminToken').log(message),
            }),
          }),
        }),
      ],
    };
  }
}
