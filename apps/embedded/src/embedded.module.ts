import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { CommandApiModule, InMemoryIdempotencyStore } from '@causeway/command-api';
import { contractsSerializer } from '@causeway/contracts';
import {
  InMemoryBroker,
  InMemoryCheckpointStore,
  InMemoryDeadLetterQueue,
  InMemoryEventStore,
  InMemorySnapshotStore,
  MessagingMetrics,
} from '@causeway/cqrs-core';
import {
  CausewayServiceModule,
  CqrsCoreModule,
  DeadLettersAdminModule,
} from '@causeway/cqrs-core/nest';
import { TracedPublisher, tracing } from '@causeway/cqrs-core/opentelemetry';
import {
  adminRefusals,
  COMMAND_TOPICS,
  InMemoryCommandStatusStore,
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryProgressStatuses,
  InMemoryTrainerPositions,
  InMemoryTokenRevocations,
  TokenService,
  TracingModule,
} from '@causeway/platform';
import {
  InMemoryTaskExpiries,
  inMemoryOrderSource,
  orderEventsTopic,
  OrderProcessorModule,
} from '@causeway/order-processor';
import { ProjectionModule } from '@causeway/projection-worker';
import { GatewayModule, InMemoryPresenceRegistry } from '@causeway/sse-gateway';
import { TrainerModule } from '@causeway/trainer-service';
import { Registry } from 'prom-client';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import {
  type EmbeddedConfig,
  ORDER_EVENT_TIMEOUT_MS,
  ORDER_MAX_ATTEMPTS,
} from './config/embedded.config';
import { DemoController } from './demo/demo.controller';
import { TrainerRetention } from './retention/trainer-retention';

/** The checkpoints of the trainer events' readers, which retention waits for. */
const FORWARDER_CHECKPOINT = 'trainer-service.forwarder';
const READ_MODELS_CHECKPOINT = 'projection-worker.read-models';

/**
 * The whole reference system in one Nest application: the feature modules of command-api,
 * trainer-service, projection-worker, order-processor and sse-gateway over in-memory adapters —
 * the event store, snapshots, the broker (same semantics as Redis Streams and Kafka; orders
 * travel on it instead of Kafka), the notification log, read models, progress statuses,
 * presence, command statuses and idempotency keys. Nothing survives the process.
 */
@Module({})
export class EmbeddedModule {
  static forRoot(config: EmbeddedConfig): DynamicModule {
    const instanceId = config.INSTANCE_ID ?? 'embedded';
    const registry = new Registry();
    const serializer = contractsSerializer();
    // Groups are all created at start-up here: the per-topic log (kept for groups created later)
    // only holds consumed messages — 100 000 per topic by default, ~60-80 MB each.
    const broker = new InMemoryBroker({ serializer, maxLenPerTopic: 10_000 });
    const publisher = new TracedPublisher(broker, { system: 'in-memory' }); // spans only with an OTLP endpoint set
    const eventStore = new InMemoryEventStore({ serializer });
    const forwarderCheckpoints = new InMemoryCheckpointStore();
    const readModelCheckpoints = new InMemoryCheckpointStore();
    const notifications = new InMemoryNotificationLog({
      maxLength: Math.max(10_000, config.HISTORY_SIZE * 20),
      retentionMs: config.HISTORY_TTL_MS,
      onFollowError: (error) =>
        new Logger('NotificationLog').warn(
          `notification follower passed a batch over: ${error.message}`,
        ),
    });
    const deadLetters = new InMemoryDeadLetterQueue({ serializer });
    const commandStatus = new InMemoryCommandStatusStore({
      retentionMs: config.COMMAND_STATUS_RETENTION_S * 1000,
    });
    const positions = new InMemoryTrainerPositions();
    // Orders (ADR 015): command-api publishes them to the broker, OrderProcessorModule consumes
    // them; the statuses it writes are the ones the gateway's progress streams recover from.
    const orderTopic = orderEventsTopic('');
    const progress = new InMemoryProgressStatuses({ ttlMs: config.PROGRESS_HISTORY_TTL_MS });
    // The task histories have a log of their own, as in the distributed apps (`progress_*`): in
    // the trainer's, its outbox published every ProgressEvent to the broker, where it outlived
    // PROGRESS_HISTORY_TTL_MS (a review, session 39).
    const progressStore = new InMemoryEventStore({ serializer });
    const groups = new InMemoryGroupMembers();
    // One process: the gateway's revocations are the ones command-api's tokens check.
    const revocations = new InMemoryTokenRevocations(
      undefined,
      undefined,
      TokenService.revocationHorizonMs(config.JWT_MAX_LIFETIME_S),
    );
    const tokens = new TokenService({
      secret: config.JWT_SECRET,
      issuer: config.JWT_ISSUER,
      maxLifetimeSeconds: config.JWT_MAX_LIFETIME_S,
      revocations,
    });
    // One count of refused admin tokens per address for every admin endpoint (ADMIN_REFUSALS).
    const adminRefused = adminRefusals({
      warn: (message) => new Logger('AdminToken').warn(message),
    });
    return {
      module: EmbeddedModule,
      controllers: [DemoController],
      providers: [
        {
          provide: TrainerRetention,
          useFactory: () =>
            new TrainerRetention({
              store: eventStore,
              maxCount: config.EVENT_RETENTION_MAX_COUNT,
              // A trainer without snapshots is its whole stream: nothing may go.
              intervalMs: config.SNAPSHOT_EVERY > 0 ? config.EVENT_RETENTION_INTERVAL_MS : 0,
              readers: [
                { checkpoints: forwarderCheckpoints, name: FORWARDER_CHECKPOINT },
                { checkpoints: readModelCheckpoints, name: READ_MODELS_CHECKPOINT },
              ],
            }),
        },
      ],
      imports: [
        CausewayServiceModule.forRoot(
          { service: 'embedded', instanceId, logLevel: config.LOG_LEVEL },
          registry,
        ),
        TracingModule.forRoot({ service: 'embedded', instanceId }),
        CqrsCoreModule.forRoot({
          service: 'embedded',
          instanceId,
          publisher,
          middleware: [tracing({ system: 'in-memory' })],
          subscriber: broker.subscriber(),
          serializer,
          deadLetters,
          // A trainer's commands on one topic, handled in send order (as in the distributed apps).
          commandTopics: COMMAND_TOPICS,
          closeOnShutdown: [broker],
        }),
        // Replays go out through the bus's publisher: counted like every publish.
        // A wrong or missing token costs the client address (429 beyond ADMIN_REFUSALS).
        DeadLettersAdminModule.forRoot({
          token: config.ADMIN_TOKEN,
          queue: deadLetters,
          refused: adminRefused,
        }),
        CommandApiModule.forRoot({
          serverId: instanceId,
          tokens,
          commandStatus,
          idempotency: new InMemoryIdempotencyStore(),
          idempotencyTtlMs: config.IDEMPOTENCY_TTL_S * 1000,
          rateLimiter: new RateLimiterMemory({
            points: config.RATE_LIMIT_POINTS,
            duration: config.RATE_LIMIT_WINDOW_S,
          }),
          devTokens: config.DEV_TOKENS,
          adminToken: config.ADMIN_TOKEN,
          adminRefused,
          commandDeadlineMs: config.COMMAND_DEADLINE_MS,
          // Acknowledged once the broker holds the order, as Kafka's acks = all (ADR 015).
          // The statuses the order processor and the gateway share: ACCEPTED until the first step.
          // Counted in causeway_messages_published_total as the bus's sends (one series).
          orders: {
            publisher: new MessagingMetrics(registry).instrument(publisher),
            topic: orderTopic,
            statuses: progress,
          },
        }),
        TrainerModule.forRoot({
          serverId: instanceId,
          eventStore,
          snapshots: new InMemorySnapshotStore(),
          commandStatus,
          notifications,
          // One process: the read model is at hand, so moves are notified without the bus hop.
          eagerNotifications: { groups, positions },
          speed: config.TRAINER_SPEED,
          maxGroups: config.TRAINER_MAX_GROUPS,
          groupLimit: { maxMembers: config.GROUP_MAX_MEMBERS, groups },
          snapshotEvery: config.SNAPSHOT_EVERY,
          // Appends happen in this process and wake the forwarder: polling is only the fallback.
          forwarder: {
            checkpoints: forwarderCheckpoints,
            name: FORWARDER_CHECKPOINT,
            pollIntervalMs: 1_000,
          },
        }),
        ProjectionModule.forRoot({
          serverId: instanceId,
          eventStore,
          positions,
          groups,
          notifications,
          checkpoints: readModelCheckpoints,
          checkpointName: READ_MODELS_CHECKPOINT,
          catchUpIntervalMs: config.CATCH_UP_INTERVAL_MS,
          registry,
          // At most the log's retention (its dedup window): an older move projected again would
          // be notified again, as if new.
          notifyHorizonMs: config.HISTORY_TTL_MS,
        }),
        OrderProcessorModule.forRoot({
          service: 'embedded',
          instanceId,
          source: inMemoryOrderSource(broker),
          topic: orderTopic,
          store: progressStore,
          statuses: progress,
          notifications,
          expiries: new InMemoryTaskExpiries(),
          // Their revocations are the gateway's, which keeps them (no `revocations` here).
          tokens,
          registry,
          rules: { catalog: config.ORDER_CATALOG, paymentLimitCents: config.PAYMENT_LIMIT_CENTS },
          stepDelayMs: config.ORDER_STEP_DELAY_MS,
          maxAttempts: ORDER_MAX_ATTEMPTS,
          eventTimeoutMs: ORDER_EVENT_TIMEOUT_MS,
          historyTtlMs: config.PROGRESS_HISTORY_TTL_MS,
          retentionIntervalMs: config.PROGRESS_RETENTION_INTERVAL_MS,
          // The progress reads (a stream read and a fold each, `/user` one per task listed, a
          // point per 20) are limited as order-processor's: counters of their own, so a page's
          // reads use up neither its commands nor its gateway requests. Without it one client
          // could keep the store busy.
          limits: {
            limiter: new RateLimiterMemory({
              points: config.RATE_LIMIT_POINTS,
              duration: config.RATE_LIMIT_WINDOW_S,
            }),
          },
        }),
        GatewayModule.forRoot({
          serverId: instanceId,
          tokens,
          notifications,
          positions,
          groups,
          presence: new InMemoryPresenceRegistry(),
          adminToken: config.ADMIN_TOKEN,
          adminRefused,
          revocations,
          progress,
          // Counters of its own (a page's reads must not use up its commands), with the same
          // limit as command-api's, as the distributed gateway has.
          rateLimiter: new RateLimiterMemory({
            points: config.RATE_LIMIT_POINTS,
            duration: config.RATE_LIMIT_WINDOW_S,
          }),
          settings: {
            heartbeatMs: config.HEARTBEAT_MS,
            connectionTimeoutMs: config.CONNECTION_TIMEOUT_MS,
            maxConnections: config.MAX_CONNECTIONS,
            maxConnectionsPerUser: config.MAX_CONNECTIONS_PER_USER,
            historySize: config.HISTORY_SIZE,
            historyScanLimit: config.HISTORY_SCAN_LIMIT,
            historyTtlMs: config.HISTORY_TTL_MS,
            positionsMaxAgeMs: config.POSITIONS_MAX_AGE_MS,
          },
        }),
      ],
    };
  }
}
