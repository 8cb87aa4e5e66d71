import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { contractsSerializer, ORDER_PLACED, type OrderPlaced } from '@causeway/contracts';
import {
  correlation,
  type DeadLetterQueue,
  deadLetter,
  type HealthProbe,
  type ManagedConnection,
  type MessagingMetrics,
  poisonToDeadLetters,
  recoverer,
  retry,
  Router,
  timeout,
} from '@causeway/cqrs-core';
import {
  type KafkaClient,
  kafkaGroupId,
  kafkaLag,
  KafkaSubscriber,
  registerKafkaLag,
} from '@causeway/cqrs-core/kafka';
import { DEAD_LETTER_QUEUE, HEALTH_PROBES, MESSAGING_METRICS } from '@causeway/cqrs-core/nest';
import { type Registry } from 'prom-client';
import { type OrderMetrics } from './order.metrics';
import { type OrderProcessor } from './order.processor';

export const ORDER_CONSUMER_OPTIONS = Symbol('order-processor:consumer-options');

export interface OrderConsumerOptions {
  service: string;
  instanceId: string;
  kafka: ManagedConnection<KafkaClient>;
  /** orderEventsTopic(TOPIC_PREFIX). */
  topic: string;
  /** Kafka group ids start with it (a deployment's TOPIC_PREFIX): deployments share no group. */
  groupIdPrefix: string;
  /** Partitions of the topic when the consumer creates it. */
  partitions: number;
  processor: OrderProcessor;
  metrics: OrderMetrics;
  registry: Registry;
  /** Attempts in process before a delivery is given up to the dead letters (MAX_RETRIES + 1). */
  maxAttempts: number;
  /** The longest one delivery may take (EVENT_TIMEOUT_MS): five steps with their pauses. */
  handlerTimeoutMs: number;
  /**
   * The broker drops a member silent for this long (ORDER_CONSUMER_SESSION_TIMEOUT_MS): a member
   * that died holds up every join of the group until then. Heartbeats every tenth of it.
   */
  sessionTimeoutMs: number;
  /** Resolves once the stores can be used (the event store initialised). */
  ready: () => Promise<void>;
}

/** The handler's name: it names the Kafka consumer group (renaming re-consumes every order). */
const HANDLER = 'orders';

/**
 * The order consumer (ADR 015 point 2): a KafkaSubscriber on the order topic, competing group
 * `<prefix>order-processor.orders`, behind the Redis apps' middleware — recoverer → metrics →
 * dead letter → retry → timeout → correlation — so a delivery that keeps failing goes to the
 * dead letters (/admin/dead-letters) and its offset is committed only after the handler
 * succeeded or it was dead-lettered. No deduplicator: OrderProcessor is idempotent by itself.
 * Readiness fails until the group has joined, and while the consumer cannot make progress.
 */
@Injectable()
export class OrderConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('OrderConsumer');
  private readonly subscriber: KafkaSubscriber;
  private readonly router: Router;
  private startError: string | undefined = 'not started';
  private starting: Promise<void> | undefined;

  constructor(
    @Inject(ORDER_CONSUMER_OPTIONS) private readonly options: OrderConsumerOptions,
    @Inject(DEAD_LETTER_QUEUE) deadLetters: DeadLetterQueue,
    @Optional() @Inject(HEALTH_PROBES) private readonly probes?: HealthProbe[],
    @Optional() @Inject(MESSAGING_METRICS) metrics?: MessagingMetrics,
  ) {
    this.subscriber = new KafkaSubscriber(options.kafka.client, {
      serializer: contractsSerializer(),
      partitions: options.partitions,
      groupIdPrefix: options.groupIdPrefix,
      sessionTimeoutMs: options.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(500, Math.floor(options.sessionTimeoutMs / 10)),
      onPoison: poisonToDeadLetters(deadLetters, { registry: options.registry }),
      onError: (error) => this.logger.warn(error.message),
    });
    this.router = new Router({
      subscriber: this.subscriber,
      service: options.service,
      instanceId: options.instanceId,
    });
    this.router.use(
      recoverer(),
      ...(metrics ? [metrics.middleware()] : []),
      deadLetter({ queue: deadLetters }),
      retry({ maxAttempts: options.maxAttempts, ...(metrics && { onRetry: metrics.onRetry }) }),
      timeout(options.handlerTimeoutMs),
      correlation(),
    );
    this.router.addHandler({
      name: HANDLER,
      topics: [options.topic],
      types: [ORDER_PLACED],
      idempotent: true,
      handle: async (delivery) => {
        if (delivery.envelope.type !== ORDER_PLACED) return;
        await options.processor.handle(delivery.envelope.data as OrderPlaced, delivery.signal);
        options.metrics.consumed.inc();
      },
    });
    registerKafkaLag({
      admin: options.kafka.client.admin,
      registry: options.registry,
      groups: () => this.groups(),
    });
  }

  onApplicationBootstrap(): void {
    this.probes?.push(
      {
        name: 'order-consumer',
        check: async () => {
          if (this.startError !== undefined) throw new Error(this.startError);
          const pending = this.router.pendingSubscriptions();
          if (pending.length > 0) throw new Error(`not subscribed yet: ${pending.join(', ')}`);
        },
      },
      this.subscriber.probe('kafka-consumers'),
    );
    this.starting = (async () => {
      try {
        await this.options.ready();
        this.startError = undefined;
        await this.router.run();
      } catch (error) {
        this.startError = `the order consumer did not start: ${(error as Error).message}`;
        this.logger.error(this.startError);
      }
    })();
  }

  /** Messages on the order topic not yet handled by the group (GET /monitor). */
  async lag(): Promise<number | undefined> {
    try {
      const rows = await kafkaLag(this.options.kafka.client.admin, this.groups());
      return rows.reduce((sum, row) => sum + row.lag, 0);
    } catch {
      return undefined;
    }
  }

  /** The Kafka group of the order handler. */
  get group(): string {
    return kafkaGroupId(
      this.router.groupOf({ name: HANDLER, mode: 'competing' }),
      this.options.groupIdPrefix,
    );
  }

  private groups() {
    return [{ group: this.group, topics: [this.options.topic] }];
  }

  /**
   * Deliveries in flight finish and are committed before the connections close. A consumer
   * still joining its group has nothing in flight, and its join may wait out a dead member's
   * session: it is left to end with the process, so a stop never waits for Kafka's rebalance.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const joined =
      this.startError === undefined &&
      this.router.running &&
      this.router.pendingSubscriptions().length === 0;
    const closing = (async () => {
      await this.router.close();
      await this.subscriber.close();
      await this.starting;
    })();
    if (joined) return closing;
    closing.catch(() => undefined);
    this.logger.log('stopping while the order consumer was still joining its group');
  }
}
