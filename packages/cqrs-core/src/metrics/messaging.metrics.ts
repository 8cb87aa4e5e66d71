import { type Counter, type Gauge, type Histogram, type Registry } from 'prom-client';
import { type RawPublisher } from '../dead-letters/dead-letter-queue.port';
import { type Envelope } from '../messages/envelope';
import { DeadLettered } from '../middleware/dead-letter.middleware';
import { Refusal } from '../buses/command-bus';
import { CommandExpiredError } from '../buses/bus.errors';
import { type BreakerRegistry, type BreakerState } from '../middleware/circuit-breaker.middleware';
import { type Middleware } from '../router/handler';
import { classifyError } from '../router/handler.errors';
import { type Publisher } from '../transport/transport.port';
import { registeredCounter, registeredGauge, registeredHistogram } from './registered.metric';

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * Prometheus metrics of the messaging layer (S1-10): published, handled (by outcome), retried
 * and dead-lettered messages per topic and handler, handler latency, breaker states.
 */
export class MessagingMetrics {
  readonly published: Counter<'topic'>;
  readonly handled: Counter<'topic' | 'handler' | 'outcome'>;
  readonly retried: Counter<'topic' | 'handler' | 'type'>;
  readonly deadLettered: Counter<'topic' | 'handler'>;
  readonly latency: Histogram<'topic' | 'handler'>;
  readonly breaker: Gauge<'handler'>;

  /**
   * Another instance on the same registry (two routers in one process, a Nest module
   * initialised twice) shares its metrics: a registry holds one metric per name, so a second
   * `new Counter` there would throw "already registered" (a review, session 37). Each delivery
   * is still counted once, by the instance whose middleware it went through.
   */
  constructor(registry: Registry) {
    this.published = registeredCounter(registry, {
      name: 'causeway_messages_published_total',
      help: 'Messages accepted by the broker',
      labelNames: ['topic'],
    });
    this.handled = registeredCounter(registry, {
      name: 'causeway_messages_handled_total',
      help: "Deliveries by outcome: success, refused (a command handler's DomainError), expired (a command past its deadline, not handled), failed (redelivered later), dead_lettered, deferred",
      labelNames: ['topic', 'handler', 'outcome'],
    });
    this.retried = registeredCounter(registry, {
      name: 'causeway_messages_retried_total',
      help: 'In-process retries',
      labelNames: ['topic', 'handler', 'type'],
    });
    this.deadLettered = registeredCounter(registry, {
      name: 'causeway_messages_dead_lettered_total',
      help: 'Messages moved to dead letters',
      labelNames: ['topic', 'handler'],
    });
    this.latency = registeredHistogram(registry, {
      name: 'causeway_handler_duration_seconds',
      help: 'Handler latency including retries',
      labelNames: ['topic', 'handler'],
      // Up to the command timeout (30 s) and past it (retries count): a slow handler is not
      // lost in +Inf, where no quantile can be read (a review, session 35).
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60],
    });
    this.breaker = registeredGauge(registry, {
      name: 'causeway_circuit_breaker_state',
      help: '0 closed, 1 half-open, 2 open',
      labelNames: ['handler'],
    });
  }

  /** Outermost middleware (inside recoverer): counts outcomes and measures latency. */
  middleware(): Middleware {
    return (next, info) => async (delivery) => {
      const end = this.latency.startTimer({ topic: delivery.topic, handler: info.name });
      // A delivery an open breaker defers never reached the handler: no latency of it.
      let measured = true;
      try {
        const result = await next(delivery);
        const outcome =
          result instanceof DeadLettered
            ? 'dead_lettered'
            : result instanceof Refusal
              ? result.error instanceof CommandExpiredError
                ? 'expired'
                : 'refused'
              : 'success';
        if (outcome === 'dead_lettered')
          this.deadLettered.inc({ topic: delivery.topic, handler: info.name });
        this.handled.inc({ topic: delivery.topic, handler: info.name, outcome });
        return result;
      } catch (error) {
        const outcome = classifyError(error) === 'deferred' ? 'deferred' : 'failed';
        measured = outcome === 'failed';
        this.handled.inc({ topic: delivery.topic, handler: info.name, outcome });
        throw error;
      } finally {
        if (measured) end();
      }
    };
  }

  /** Hook for RetryOptions.onRetry. */
  readonly onRetry = (event: { handler: string; topic?: string; type: string }): void => {
    // '' from a caller of an earlier release's event, which had no topic.
    this.retried.inc({ topic: event.topic ?? '', handler: event.handler, type: event.type });
  };

  /** Reports every breaker of the registry. */
  watchBreakers(breakers: BreakerRegistry): void {
    breakers.onStateChange((handler, state) => this.breaker.set({ handler }, BREAKER_VALUE[state]));
  }

  /** A publisher that counts what the broker accepted. */
  instrument(publisher: Publisher): Publisher {
    const raw = (publisher as Partial<RawPublisher>).publishRaw;
    return {
      publish: async (topic: string, messages: readonly Envelope[]) => {
        await publisher.publish(topic, messages);
        this.published.inc({ topic }, messages.length);
      },
      // A dead letter's replay of undecodable text goes through too (see RawPublisher).
      ...(typeof raw === 'function' && {
        publishRaw: async (...args: Parameters<RawPublisher['publishRaw']>) => {
          await raw.apply(publisher, args);
          this.published.inc({ topic: args[0] });
        },
      }),
      close: () => publisher.close(),
    } as Publisher;
  }
}
