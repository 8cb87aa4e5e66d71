import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { contractsSerializer } from '@causeway/contracts';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { CLOSE_GRACE_MS, kafkaConnection } from '@causeway/cqrs-core/kafka';
import { MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisSlotHint } from '@causeway/cqrs-core/redis';
import {
  instanceIdOf,
  keyPrefixOf,
  mongoFromConfig,
  redisFromConfig,
  RedisMessagingModule,
  RedisNotificationLog,
  RedisProgressStatuses,
  redisCallerLimiter,
  RedisTokenRevocations,
  subscriptionCloseTimeoutMs,
  TokenService,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { type OrderProcessorConfig } from './config/order-processor.config';
import { whenOpen } from './mongodb.ready';
import { OrderProcessorModule } from './order-processor.module';
import { kafkaOrderReplays, kafkaOrderSource } from './orders/kafka-order.source';
import { orderEventsTopic } from './orders/order.topic';
import { RedisTaskExpiries } from './retention/task-expiries';
import { progressLogOptions } from './orders/progress-log.options';

/** The collections of the task histories: `progress_commits`, `progress_streams`, `progress_meta`. */
export const PROGRESS_COLLECTION_PREFIX = 'progress_';

/**
 * order-processor (ADR 015): the order feature (OrderProcessorModule) over Kafka (orders), the
 * MongoDB event store (collections `progress_*` of its own, in trainer-service's database) and
 * Redis (the status store, the notification log, the retention index, revocations and the dead
 * letters).
 */
@Module({})
export class AppModule {
  static forRoot(config: OrderProcessorConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisFromConfig(config, registry);
    const mongo = mongoFromConfig(config, registry);
    const instanceId = instanceIdOf(config);
    const keyPrefix = keyPrefixOf(config);
    const logger = new Logger('OrderProcessor');
    // Kafka carries the orders: not ready without it (ADR 015, Consequences).
    const kafka = kafkaConnection({
      brokers: config.KAFKA_BROKERS,
      source: 'KAFKA_BROKERS',
      requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
      clientId: 'order-processor',
      registry,
    });
    const eventStore = new MongoEventStore({
      connection: mongo.client,
      // A log of its own (ADR 015): trainer-service shares this database, and its log
      // (`events_*`) is what its outbox forwards and projection-worker reads. Progress kept in
      // there went out to a Redis stream no one reads, outliving PROGRESS_HISTORY_TTL_MS there
      // (a review, session 39).
      collectionPrefix: PROGRESS_COLLECTION_PREFIX,
      serializer: contractsSerializer(),
      // Several instances append to one log: share the highest slot so they do not collide.
      slotHint: new RedisSlotHint(redis.client, { keyPrefix }),
    });
    let initialised: Promise<void> | undefined;
    // The connection opens in the background (retried while MongoDB is down); the store needs
    // it open to create its collections and indexes.
    const ready = () =>
      (initialised ??= whenOpen(mongo.client)
        .then(() => eventStore.init())
        .catch((error) => {
          initialised = undefined;
          throw error;
        }));
    const revocations = new RedisTokenRevocations(redis.client, {
      keyPrefix,
      keepMs: TokenService.revocationHorizonMs(config.JWT_MAX_LIFETIME_S),
      onError: (message) => logger.warn(`token revocations: ${message}`),
      onInfo: (message) => logger.log(`token revocations: ${message}`),
    });
    const topic = orderEventsTopic(config.TOPIC_PREFIX);
    // Orders are read from Kafka: their dead letters are replayed there, not to the Redis bus
    // (issue 4: "to the original topic"). Its producer connects at the first replay.
    const replays = kafkaOrderReplays(kafka, {
      partitions: config.ORDER_TOPIC_PARTITIONS,
      retentionMs: config.PROGRESS_HISTORY_TTL_MS,
    });
    return {
      module: AppModule,
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'order-processor',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [redis, kafka, mongo],
          },
          registry,
        ),
        RedisMessagingModule.forRoot({
          service: 'order-processor',
          instanceId,
          config,
          redis,
          // Wrong admin tokens on /admin/dead-letters cost the client it forwarded for.
          trustedProxies: config.TRUST_PROXY,
          registry,
          replayRoutes: { [topic]: replays },
        }),
        OrderProcessorModule.forRoot({
          service: 'order-processor',
          instanceId,
          source: kafkaOrderSource({
            kafka,
            groupIdPrefix: config.TOPIC_PREFIX ? `${config.TOPIC_PREFIX}.` : '',
            partitions: config.ORDER_TOPIC_PARTITIONS,
            retentionMs: config.PROGRESS_HISTORY_TTL_MS,
            sessionTimeoutMs: config.ORDER_CONSUMER_SESSION_TIMEOUT_MS,
            registry,
            closeTimeoutMs: subscriptionCloseTimeoutMs(config, { graceMs: CLOSE_GRACE_MS }),
          }),
          topic,
          store: eventStore,
          statuses: new RedisProgressStatuses({
            client: redis.client,
            keyPrefix,
            ttlMs: config.PROGRESS_HISTORY_TTL_MS,
          }),
          notifications: new RedisNotificationLog({
            client: redis.client,
            keyPrefix,
            ...progressLogOptions(config),
          }),
          expiries: new RedisTaskExpiries(redis.client, { keyPrefix }),
          tokens: new TokenService({
            secret: config.JWT_SECRET,
            previousSecrets: config.JWT_PREVIOUS_SECRETS,
            issuer: config.JWT_ISSUER,
            maxLifetimeSeconds: config.JWT_MAX_LIFETIME_S,
            revocations,
          }),
          // Loaded and kept current by the module: "sign out everywhere" refuses the user's
          // tokens here as in command-api and the gateways.
          revocations,
          registry,
          rules: { catalog: config.ORDER_CATALOG, paymentLimitCents: config.PAYMENT_LIMIT_CENTS },
          stepDelayMs: config.ORDER_STEP_DELAY_MS,
          maxAttempts: config.MAX_RETRIES + 1,
          eventTimeoutMs: config.EVENT_TIMEOUT_MS,
          historyTtlMs: config.PROGRESS_HISTORY_TTL_MS,
          retentionIntervalMs: config.PROGRESS_RETENTION_INTERVAL_MS,
          ready,
          replays,
          limits: {
            // Counters of their own (a page's progress reads must not use up its commands),
            // shared by every instance.
            limiter: redisCallerLimiter({
              redis: redis.client,
              keyPrefix: `${keyPrefix}order-processor:`,
              points: config.RATE_LIMIT_POINTS,
              windowSeconds: config.RATE_LIMIT_WINDOW_S,
            }),
            proxies: config.TRUST_PROXY,
          },
        }),
      ],
    };
  }
}
