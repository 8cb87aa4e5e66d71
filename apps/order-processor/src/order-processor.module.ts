import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { type DeadLetterQueue, type EventStore, type Publisher } from '@causeway/cqrs-core';
import { DEAD_LETTER_QUEUE } from '@causeway/cqrs-core/nest';
import {
  type NotificationLog,
  type ProgressStatuses,
  revocationsLifecycle,
  type TokenRevocations,
  type TokenService,
} from '@causeway/platform';
import { type Registry } from 'prom-client';
import { reportExpiredOrder } from './orders/expired-order.report';
import { ORDER_CONSUMER_OPTIONS, OrderConsumer } from './orders/order.consumer';
import { orderAttemptTimeoutMs } from './orders/order-delivery.limits';
import { OrderMetrics } from './orders/order.metrics';
import { OrderProcessor } from './orders/order.processor';
import { type OrderRules } from './orders/order-steps';
import { type OrderSourceFactory } from './orders/order.source';
import {
  PROGRESS_LIMITS,
  PROGRESS_TOKENS,
  ProgressAuth,
  type ProgressLimits,
} from './progress/progress.auth';
import { PROGRESS_READS, ProgressController } from './progress/progress.controller';
import { ProgressReads } from './progress/progress.reads';
import { ProgressRetentionJob } from './retention/progress-retention.job';
import { type TaskExpiries } from './retention/task-expiries';
import { PROGRESS_RETENTION, RetentionLifecycle } from './retention/retention.lifecycle';
import { RetentionMetrics } from './retention/retention.metrics';
import { retentionReport } from './retention/retention.report';

/** The ports and settings of the order feature (OrderProcessorModule). */
export interface OrderProcessorModuleOptions {
  /** Names the consumer group (`<service>.orders`) and the handler's logs. */
  service: string;
  /** This instance: the notifications' serverId and GET /monitor's `instanceId`. */
  instanceId: string;
  /** Where orders arrive: kafkaOrderSource (the app) or inMemoryOrderSource (the embedded mode). */
  source: OrderSourceFactory;
  /** The order topic, prefix included (orderEventsTopic); command-api publishes to the same. */
  topic: string;
  /** The source of truth: one stream per task. Its hard deletes serve retention. */
  store: EventStore;
  /** Live statuses, shared with the gateways' progress streams (their `recovery` events). */
  statuses: ProgressStatuses;
  /** Where `progress.update` notifications go: the log the gateways follow. */
  notifications: NotificationLog;
  /** The retention index (RedisTaskExpiries; InMemoryTaskExpiries in one process). */
  expiries: TaskExpiries;
  /** Verifies the reads' bearer tokens, as command-api and the gateways verify them. */
  tokens: TokenService;
  /**
   * The revocations `tokens` checks (give it the same instance): the module starts and closes
   * it, with the readiness probe `token-revocations` (until loaded, no token is refused as revoked).
   * Omit when tokens are not revocable, or when another module of the app keeps the same
   * instance loaded (the embedded mode: the gateway's).
   */
  revocations?: TokenRevocations;
  /**
   * Gets the order counters (causeway_orders_consumed_total, causeway_order_steps_total,
   * causeway_orders_expired_total) and retention's (causeway_order_retention_*).
   */
  registry: Registry;
  /** The steps' catalogue and payment limit (ORDER_CATALOG, PAYMENT_LIMIT_CENTS). */
  rules: OrderRules;
  /** Pause before each step after STARTED (ORDER_STEP_DELAY_MS). */
  stepDelayMs: number;
  /** Attempts of a delivery before the dead letters (MAX_RETRIES + 1). */
  maxAttempts: number;
  /** The longest one step's stores may take (EVENT_TIMEOUT_MS); the pauses are added to it. */
  eventTimeoutMs: number;
  /**
   * S3-7: task streams whose last event is older are deleted (PROGRESS_HISTORY_TTL_MS); an
   * unfinished one is ended FAILED "expired" first. Keep it above orderDeliveryLimitMs of the
   * settings above (the apps' configurations refuse less): a delivery may be idle that long.
   */
  historyTtlMs: number;
  /** How often retention looks for expired streams (PROGRESS_RETENTION_INTERVAL_MS). */
  retentionIntervalMs: number;
  /**
   * Resolves once the stores can be used (MongoDB open, the event store initialised); the
   * consumer and retention start after it. A rejection is reported by readiness, and asked
   * again by the next caller; the consumer and retention ask again, with a growing pause, until
   * it resolves. Default: ready at once.
   */
  ready?: () => Promise<void>;
  /**
   * What /admin/dead-letters replays the order topic's dead letters through when that is not
   * the host's bus (the app: a KafkaPublisher, also given to RedisMessagingModule's
   * `replayRoutes`): closed after the consumer, before the connections close.
   */
  replays?: Publisher;
  /** The progress reads' rate limit (the app: Redis, RATE_LIMIT_*). Default: none. */
  limits?: ProgressLimits;
}

/**
 * The order feature of order-processor (ADR 015 points 2, 3, 5 and 6), for the app itself (over
 * Kafka, MongoDB and Redis) and the embedded mode (over the in-memory broker, store and status
 * store): the order consumer running orders' steps, the progress reads under /api/v2/progress
 * and the retention job. The host provides DEAD_LETTER_QUEUE (and optionally HEALTH_PROBES and
 * MESSAGING_METRICS): RedisMessagingModule or CqrsCoreModule.
 */
@Module({})
export class OrderProcessorModule {
  static forRoot(options: OrderProcessorModuleOptions): DynamicModule {
    const logger = new Logger('OrderProcessor');
    const ready = options.ready ?? (() => Promise.resolve());
    const metrics = new OrderMetrics(options.registry);
    const retentionMetrics = new RetentionMetrics(options.registry);
    const processor = new OrderProcessor({
      store: options.store,
      statuses: options.statuses,
      notifications: options.notifications,
      rules: options.rules,
      serverId: options.instanceId,
      now: () => new Date(),
      stepDelayMs: options.stepDelayMs,
      onEvent: async (event, stored) => {
        if (stored) metrics.stored(event);
        await options.expiries.touch(event.taskId, Date.parse(event.timestamp));
      },
      onExpired: reportExpiredOrder({ metrics, logger, historyTtlMs: options.historyTtlMs }),
      onWarning: (message) => logger.warn(message),
    });
    metrics.countRunning(() => processor.runningOrders());
    return {
      module: OrderProcessorModule,
      controllers: [ProgressController],
      providers: [
        OrderConsumer,
        ProgressAuth,
        RetentionLifecycle,
        ...(options.revocations ? [revocationsLifecycle(options.revocations)] : []),
        {
          provide: ORDER_CONSUMER_OPTIONS,
          useValue: {
            service: options.service,
            instanceId: options.instanceId,
            source: options.source,
            topic: options.topic,
            processor,
            metrics,
            maxAttempts: options.maxAttempts,
            // Five steps and their pauses, plus the stores' round trips.
            handlerTimeoutMs: orderAttemptTimeoutMs(options),
            ready,
            replays: options.replays,
          },
        },
        { provide: PROGRESS_TOKENS, useValue: options.tokens },
        { provide: PROGRESS_LIMITS, useValue: options.limits ?? {} },
        {
          provide: PROGRESS_READS,
          useValue: {
            reads: new ProgressReads(options.store, options.statuses),
            metrics,
            instanceId: options.instanceId,
            topic: options.topic,
            ready,
            running: () => processor.runningOrders(),
          },
        },
        {
          provide: PROGRESS_RETENTION,
          inject: [DEAD_LETTER_QUEUE],
          useFactory: (deadLetters: DeadLetterQueue) => ({
            ready,
            job: new ProgressRetentionJob({
              store: options.store,
              expiries: options.expiries,
              expirer: processor,
              // A deleted task's progress notifications leave the log with it (S3-7).
              notifications: options.notifications,
              // A dead-lettered order (user id, items) goes one TTL after it was dead-lettered.
              deadLetters: { queue: deadLetters, topic: options.topic },
              ttlMs: options.historyTtlMs,
              intervalMs: options.retentionIntervalMs,
              // Counted (causeway_order_retention_*) and logged: the tasks a run could not
              // retire in one warn line at its end, not one per task.
              ...retentionReport({ logger, metrics: retentionMetrics }),
            }),
          }),
        },
      ],
    };
  }
}
