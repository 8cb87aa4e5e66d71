import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { ORDER_PLACED, type OrderPlaced } from '@causeway/contracts';
import {
  correlation,
  type DeadLetterQueue,
  deadLetter,
  type HealthProbe,
  type MessagingMetrics,
  type Publisher,
  recoverer,
  retry,
  Router,
  timeout,
} from '@causeway/cqrs-core';
import { DEAD_LETTER_QUEUE, HEALTH_PROBES, MESSAGING_METRICS } from '@causeway/cqrs-core/nest';
import { tracing } from '@causeway/cqrs-core/opentelemetry';
import { untilReady } from '../stores.ready';
import { type OrderMetrics } from './order.metrics';
import { type OrderProcessor } from './order.processor';
import { type OrderSource, type OrderSourceFactory } from './order.source';

export const ORDER_CONSUMER_OPTIONS = Symbol('order-processor:consumer-options');

export interface OrderConsumerOptions {
  service: string;
  instanceId: string;
  /** Where orders arrive: kafkaOrderSource (the app), inMemoryOrderSource (the embedded mode). */
  source: OrderSourceFactory;
  /** orderEventsTopic(TOPIC_PREFIX). */
  topic: string;
  processor: OrderProcessor;
  metrics: OrderMetrics;
  /** Attempts in process before a delivery is given up to the dead letters (MAX_RETRIES + 1). */
  maxAttempts: number;
  /** The longest one delivery may take (EVENT_TIMEOUT_MS): five steps with their pauses. */
  handlerTimeoutMs: number;
  /**
   * Resolves once the stores can be used (the event store initialised). Asked again, with a
   * growing pause (untilReady), after each rejection: the consumer starts once it resolves.
   */
  ready: () => Promise<void>;
  /**
   * What /admin/dead-letters replays the order topic's dead letters through (a KafkaPublisher
   * on `kafka`): closed here, after the consumer, before the connection closes.
   */
  replays?: Publisher;
}

/** The handler's name: it names the consumer group (renaming re-consumes every order). */
const HANDLER = 'orders';

/**
 * The order consumer (ADR 015 point 2): the source's subscriber (Kafka's, or the in-memory
 * broker's in the embedded mode) on the order topic, competing group `<service>.orders` (after
 * the deployment's TOPIC_PREFIX and a dot on Kafka: `P.order-processor.orders`), behind the
 * Redis apps' middleware — recoverer → metrics →
 * dead letter → retry → timeout → correlation — so a delivery that keeps failing goes to the
 * dead letters (/admin/dead-letters) and its offset is committed only after the handler
 * succeeded or it was dead-lettered; a replay from there publishes it back to this Kafka topic
 * (`replays`), attempts reset. No deduplicator: OrderProcessor is idempotent by itself.
 * Readiness fails until the group has joined, and while the consumer cannot make progress.
 */
@Injectable()
export class OrderConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('OrderConsumer');
  private readonly source: OrderSource;
  private readonly router: Router;
  private startError: string | undefined = 'not started';
  private starting: Promise<void> | undefined;
  /** Aborted at shutdown: the start stops asking for the stores. */
  private readonly stopping = new AbortController();

  constructor(
    @Inject(ORDER_CONSUMER_OPTIONS) private readonly options: OrderConsumerOptions,
    @Inject(DEAD_LETTER_QUEUE) deadLetters: DeadLetterQueue,
    @Optional() @Inject(HEALTH_PROBES) private readonly probes?: HealthProbe[],
    @Optional() @Inject(MESSAGING_METRICS) metrics?: MessagingMetrics,
  ) {
    this.source = options.source({
      topic: options.topic,
      group: `${options.service}.${HANDLER}`,
      deadLetters,
      onError: (error) => this.logger.warn(error.message),
    });
    this.router = new Router({
      subscriber: this.source.subscriber,
      service: options.service,
      instanceId: options.instanceId,
    });
    this.router.use(
      recoverer(),
      // A span per delivery, child of the trace the order carries (command-api's request), as
      // the Redis handlers' (RedisMessagingModule): no span of it was exported.
      tracing({ ...(this.source.system !== undefined && { system: this.source.system }) }),
      ...(metrics ? [metrics.middleware()] : []),
      deadLetter({ queue: deadLetters }),
      retry({ maxAttempts: options.maxAttempts, ...(metrics && { onRetry: metrics.onRetry }) }),
      timeout(options.handlerTimeoutMs),
      correlation(),
    );
    this.router.addHandler({
      name: HANDLER,
      // Router.groupOf's own name for it, given so the source knew it before the router existed.
      group: `${options.service}.${HANDLER}`,
      topics: [options.topic],
      types: [ORDER_PLACED],
      idempotent: true,
      handle: async (delivery) => {
        if (delivery.envelope.type !== ORDER_PLACED) return;
        await options.processor.handle(delivery.envelope.data as OrderPlaced, delivery.signal);
        options.metrics.consumed.inc();
      },
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
      ...(this.source.probe ? [this.source.probe] : []),
    );
    this.starting = (async () => {
      // Asked again until the stores are up (a failure at start is not for the process's life).
      const ready = await untilReady(this.options.ready, {
        signal: this.stopping.signal,
        onFailure: (error, retryInMs) => {
          this.startError = `the order consumer did not start: ${(error as Error).message}`;
          this.logger.error(`${this.startError}; trying again in ${retryInMs} ms`);
        },
      });
      if (!ready) return;
      try {
        this.startError = undefined;
        await this.router.run();
      } catch (error) {
        this.startError = `the order consumer did not start: ${(error as Error).message}`;
        this.logger.error(this.startError);
      }
    })();
  }

  /** Messages on the order topic not yet handled by the group (GET /monitor). */
  lag(): Promise<number | undefined> {
    return this.source.lag();
  }

  /** The order handler's group, as the broker names it. */
  get group(): string {
    return this.source.group;
  }

  /**
   * Deliveries in flight finish and are committed before the connections close. A consumer
   * still joining its group has nothing in flight, and its join may wait out a dead member's
   * session (Kafka): it is left to end with the process, so a stop never waits for Kafka's rebalance.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    const joined =
      this.startError === undefined &&
      this.router.running &&
      this.router.pendingSubscriptions().length === 0;
    const closing = (async () => {
      await this.router.close();
      await this.source.subscriber.close();
      await this.starting;
      await this.options.replays?.close();
    })();
    if (joined) return closing;
    closing.catch(() => undefined);
    this.logger.log('stopping while the order consumer was still joining its group');
  }
}
