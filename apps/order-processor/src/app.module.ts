import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { contractsSerializer } from '@causeway/contracts';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
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
  RedisTokenRevocations,
  TokenService,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { type OrderProcessorConfig } from './config/order-processor.config';
import { whenOpen } from './mongodb.ready';
import { ORDER_CONSUMER_OPTIONS, OrderConsumer } from './orders/order.consumer';
import { OrderMetrics } from './orders/order.metrics';
import { OrderProcessor } from './orders/order.processor';
import { orderEventsTopic } from './orders/order.topic';
import { PROGRESS_TOKENS, ProgressAuth } from './progress/progress.auth';
import { PROGRESS_READS, ProgressController } from './progress/progress.controller';
import { ProgressReads } from './progress/progress.reads';
import { ProgressRetentionJob } from './retention/progress-retention.job';
import { RedisTaskExpiries } from './retention/task-expiries';
import { RetentionLifecycle, PROGRESS_RETENTION } from './retention/retention.lifecycle';

/**
 * order-processor (ADR 015): consumes orders from Kafka and runs their steps into the MongoDB
 * event store (the store trainer-service uses), broadcasts progress through the Redis status
 * store and notification log, serves the progress reads and expires old task streams.
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
      requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
      clientId: 'order-processor',
      registry,
    });
    const eventStore = new MongoEventStore({
      connection: mongo.client,
      serializer: contractsSerializer(),
      // Several instances append to one log: share the highest slot so they do not collide.
      slotHint: new RedisSlotHint(redis.client, { keyPrefix }),
    });
    const statuses = new RedisProgressStatuses({
      client: redis.client,
      keyPrefix,
      ttlMs: config.PROGRESS_HISTORY_TTL_MS,
    });
    const expiries = new RedisTaskExpiries(redis.client, { keyPrefix });
    const metrics = new OrderMetrics(registry);
    const processor = new OrderProcessor({
      store: eventStore,
      statuses,
      notifications: new RedisNotificationLog({
        client: redis.client,
        keyPrefix,
        maxLength: config.NOTIFICATION_LOG_MAX_LENGTH,
        retentionMs: config.NOTIFICATION_LOG_RETENTION_MS,
      }),
      rules: { catalog: config.ORDER_CATALOG, paymentLimitCents: config.PAYMENT_LIMIT_CENTS },
      serverId: instanceId,
      now: () => new Date(),
      stepDelayMs: config.ORDER_STEP_DELAY_MS,
      onEvent: async (event, stored) => {
        if (stored) metrics.stored(event);
        await expiries.touch(event.taskId, Date.parse(event.timestamp));
      },
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
    return {
      module: AppModule,
      controllers: [ProgressController],
      providers: [
        OrderConsumer,
        ProgressAuth,
        RetentionLifecycle,
        {
          provide: ORDER_CONSUMER_OPTIONS,
          useValue: {
            service: 'order-processor',
            instanceId,
            kafka,
            topic,
            groupIdPrefix: config.TOPIC_PREFIX ? `${config.TOPIC_PREFIX}.` : '',
            partitions: config.ORDER_TOPIC_PARTITIONS,
            sessionTimeoutMs: config.ORDER_CONSUMER_SESSION_TIMEOUT_MS,
            processor,
            metrics,
            registry,
            maxAttempts: config.MAX_RETRIES + 1,
            // Five steps and their pauses, plus the stores' round trips.
            handlerTimeoutMs: config.EVENT_TIMEOUT_MS + 5 * config.ORDER_STEP_DELAY_MS,
            ready,
          },
        },
        {
          provide: PROGRESS_TOKENS,
          useValue: new TokenService({
            secret: config.JWT_SECRET,
            previousSecrets: config.JWT_PREVIOUS_SECRETS,
            issuer: config.JWT_ISSUER,
            maxLifetimeSeconds: config.JWT_MAX_LIFETIME_S,
            revocations,
          }),
        },
        {
          provide: PROGRESS_READS,
          useValue: {
            reads: new ProgressReads(eventStore, statuses),
            metrics,
            instanceId,
            topic,
          },
        },
        {
          provide: PROGRESS_RETENTION,
          useValue: {
            ready,
            job: new ProgressRetentionJob({
              store: eventStore,
              expiries,
              ttlMs: config.PROGRESS_HISTORY_TTL_MS,
              intervalMs: config.PROGRESS_RETENTION_INTERVAL_MS,
              onRun: (deleted) => {
                if (deleted > 0) logger.log(`retention deleted ${deleted} expired task stream(s)`);
              },
              onError: (error) => logger.warn(`retention run failed: ${(error as Error).message}`),
            }),
          },
        },
      ],
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
          registry,
        }),
      ],
    };
  }
}
