import {
  type DynamicModule,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { contractsSerializer, ORDER_EVENTS_TOPIC } from '@causeway/contracts';
import { MessagingMetrics } from '@causeway/cqrs-core';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { kafkaConnection, KafkaPublisher } from '@causeway/cqrs-core/kafka';
import { TracedPublisher } from '@causeway/cqrs-core/opentelemetry';
import { redisStreamsLag } from '@causeway/cqrs-core/redis';
import {
  adminRefusals,
  instanceIdOf,
  keyPrefixOf,
  RedisCommandStatusStore,
  RedisProgressStatuses,
  redisFromConfig,
  RedisMessagingModule,
  RedisTokenRevocations,
  redisTime,
  ServerClock,
  serverClockStartup,
  TokenService,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { CommandApiModule } from './command-api.module';
import { type CommandApiOptions } from './command-api.options';
import { CommandBacklog } from './commands/command.backlog';
import { type CommandApiConfig } from './config/command-api.config';
import { RedisIdempotencyStore } from './idempotency/redis.idempotency-store';
import { orderEventsTopic } from './orders/order.schemas';

/** Closes the order publisher at shutdown, after the orders in flight were sent. */
@Injectable()
class OrderPublisherLifecycle implements OnApplicationShutdown {
  constructor(private readonly publisher: KafkaPublisher) {}
  async onApplicationShutdown(): Promise<void> {
    await this.publisher.close();
  }
}

/**
 * The standalone command-api: the feature module over Redis (statuses, idempotency, rate limit)
 * and Kafka (orders, ADR 015).
 */
@Module({})
export class AppModule {
  static forRoot(config: CommandApiConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisFromConfig(config, registry);
    const instanceId = instanceIdOf(config);
    const keyPrefix = keyPrefixOf(config);
    const kafka = kafkaConnection({
      brokers: config.KAFKA_BROKERS,
      source: 'KAFKA_BROKERS',
      requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
      clientId: 'command-api',
      registry,
    });
    // Orders travel on Kafka: not ready without it (a load balancer then sends orders elsewhere).
    // An order names its user and items: no copy of it outlives the progress TTL (S3-7, ADR 015).
    const publisher = new KafkaPublisher(kafka.client, {
      serializer: contractsSerializer(),
      retentionMs: config.PROGRESS_HISTORY_TTL_MS,
      // As order-processor's: the first to publish or subscribe creates the topic for good.
      partitions: config.ORDER_TOPIC_PARTITIONS,
    });
    // One clock for every instance: commands are stamped, and their deadlines checked, by Redis'.
    const clock = new ServerClock({
      read: redisTime(redis.client),
      onError: (message) => new Logger('ServerClock').warn(message),
      onDebug: (message) => new Logger('ServerClock').debug(message),
    });
    return {
      module: AppModule,
      // The start waits (at most 5 s) for the clock's first readings.
      providers: [
        serverClockStartup(clock),
        { provide: KafkaPublisher, useValue: publisher },
        OrderPublisherLifecycle,
      ],
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'command-api',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [redis, kafka],
            // Not ready until Redis' time is read: no command is stamped by this host's clock.
            probes: [clock.probe()],
          },
          registry,
        ),
        RedisMessagingModule.forRoot({
          service: 'command-api',
          instanceId,
          config,
          redis,
          registry,
          clock,
          trustedProxies: config.TRUST_PROXY,
        }),
        CommandApiModule.forRoot({
          ...commandApiOptions(config, instanceId, redis.client, keyPrefix, clock),
          orders: {
            // A span `send <topic>` per order, child of the request's, whose context the order
            // carries: order-processor's delivery then continues the request's trace. Counted in
            // causeway_messages_published_total like the bus's sends (the registry's one series).
            publisher: new MessagingMetrics(registry).instrument(
              new TracedPublisher(publisher, { system: 'kafka' }),
            ),
            topic: orderEventsTopic(config.TOPIC_PREFIX, ORDER_EVENTS_TOPIC),
            publishTimeoutMs: config.ORDER_PUBLISH_TIMEOUT_MS,
            // Read by order-processor's /status and the gateways' recovery (same TOPIC_PREFIX).
            statuses: new RedisProgressStatuses({
              client: redis.client,
              keyPrefix,
              ttlMs: config.PROGRESS_HISTORY_TTL_MS,
            }),
          },
        }),
      ],
    };
  }
}

export function commandApiOptions(
  config: CommandApiConfig,
  serverId: string,
  redis: ConstructorParameters<typeof RedisCommandStatusStore>[0],
  keyPrefix: string,
  clock?: ServerClock,
): CommandApiOptions {
  const layout = {
    keyPrefix,
    partitions: config.REDIS_STREAMS_PARTITIONS,
    priorities: config.REDIS_STREAMS_PRIORITIES,
  };
  // The cut-offs the gateway's `POST /api/presence/{userId}/disconnect` with `revoke` writes.
  const revocations = new RedisTokenRevocations(redis, {
    keyPrefix,
    keepMs: TokenService.revocationHorizonMs(config.JWT_MAX_LIFETIME_S),
    onError: (message) => new Logger('TokenRevocations').warn(message),
    onInfo: (message) => new Logger('TokenRevocations').log(message),
  });
  return {
    serverId,
    tokens: new TokenService({
      secret: config.JWT_SECRET,
      previousSecrets: config.JWT_PREVIOUS_SECRETS,
      issuer: config.JWT_ISSUER,
      maxLifetimeSeconds: config.JWT_MAX_LIFETIME_S,
      revocations,
    }),
    revocations,
    commandStatus: new RedisCommandStatusStore(redis, {
      keyPrefix,
      retentionMs: config.COMMAND_STATUS_RETENTION_S * 1000,
    }),
    idempotency: new RedisIdempotencyStore(redis, { keyPrefix }),
    rateLimiter: new RateLimiterRedis({
      storeClient: redis,
      // The limit is part of the key: instances configured differently never share counters
      // (a counter made under a 1 s window would otherwise be read against a 60 s one).
      keyPrefix: `${keyPrefix}rate-limit:${config.RATE_LIMIT_POINTS}-per-${config.RATE_LIMIT_WINDOW_S}s`,
      points: config.RATE_LIMIT_POINTS,
      duration: config.RATE_LIMIT_WINDOW_S,
    }),
    devTokens: config.DEV_TOKENS,
    adminToken: config.ADMIN_TOKEN,
    // The counts /admin/dead-letters keeps (RedisMessagingModule's): the same keys in Redis.
    adminRefused: adminRefusals({
      redis,
      keyPrefix,
      ...(config.TRUST_PROXY && { proxies: config.TRUST_PROXY }),
      warn: (message) => new Logger('AdminToken').warn(message),
      info: (message) => new Logger('AdminToken').log(message),
    }),
    trustedProxies: config.TRUST_PROXY,
    maxBodyBytes: config.MAX_BODY_BYTES,
    idempotencyTtlMs: config.IDEMPOTENCY_TTL_S * 1000,
    commandDeadlineMs: config.COMMAND_DEADLINE_MS,
    ...(clock && { clock }),
    ...(config.COMMAND_BACKLOG_MAX > 0 && {
      backlog: new CommandBacklog({
        max: config.COMMAND_BACKLOG_MAX,
        // The handler's consumer group (trainer-service's): the entries not delivered to it
        // yet and those delivered, not acknowledged. Other groups of the topic (a tool's, a
        // leftover) do not count.
        measure: async (topic, group) => {
          const lags = await redisStreamsLag(redis, layout, [topic]);
          const handler = lags.find((lag) => lag.group === group);
          if (!handler) return undefined;
          if (!handler.lagKnown)
            throw new Error(
              `Redis did not report the lag of group ${group} (XINFO GROUPS has it from Redis 7)`,
            );
          return handler.lag + handler.pending;
        },
        onError: (message) => new Logger('CommandBacklog').warn(message),
      }),
    }),
  };
}
