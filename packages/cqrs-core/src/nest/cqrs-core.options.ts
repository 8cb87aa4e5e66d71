import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { type EventStore } from '../event-store/event-store.port';
import { type SnapshotStore } from '../snapshots/snapshot-store.port';
import { type SerializerRegistry } from '../messages/serializer.registry';
import { type CircuitBreakerOptions } from '../middleware/circuit-breaker.middleware';
import { type DeadLetterOptions } from '../middleware/dead-letter.middleware';
import { type DeduplicationStore } from '../middleware/deduplication-store.port';
import { type RetryOptions } from '../middleware/retry.middleware';
import { type Middleware } from '../router/handler';
import { type RouterOptions } from '../router/router';
import { type Publisher, type Subscriber } from '../transport/transport.port';

/** Everything CqrsCoreModule wires; transports and stores come from the adapters (./redis, ./kafka, …). */
export interface CqrsCoreModuleOptions {
  /**
   * This service's name, and its instance's: they name consumer groups and reply topics and
   * label log lines and metrics, so each must be 1 to 200 characters without whitespace (else
   * the start fails, naming it).
   */
  service: string;
  instanceId: string;
  /**
   * Where the buses publish. Give it with `subscriber` (the same transport), or neither and
   * `transport: 'in-memory'`.
   */
  publisher?: Publisher;
  /**
   * Built by you, so its `onPoison` is yours to set: `poisonToDeadLetters(deadLetters, {
   * replies: publisher })` sends undecodable messages to the same queue as the handlers' dead
   * letters, and answers a poison command's sender at once (a CommandRejectedError rather than
   * a CommandTimeoutError after its timeout).
   */
  subscriber?: Subscriber;
  /**
   * `'in-memory'`: no `publisher` nor `subscriber`, an in-process InMemoryBroker over
   * `serializer` is both, closed with the app — one process only, nothing survives it (the
   * embedded mode, tests). Said explicitly, so that transport options that came out undefined
   * (a factory that forgot them) fail the start instead of running a production app on a bus
   * that never leaves the process.
   */
  transport?: 'in-memory';
  serializer: SerializerRegistry;
  /**
   * The event store the handlers append to, injected with `@Inject(EVENT_STORE)` (give it the
   * `serializer` too, so that it validates and upcasts). The module `init()`s it before the
   * router takes its first delivery and the workers start — retried with backoff while its
   * server is away, the `bus` probe not ready meanwhile — and closes it at shutdown after the
   * router drained. Default: none (injecting EVENT_STORE then throws on first use).
   */
  eventStore?: EventStore;
  /** The snapshot store (`@Inject(SNAPSHOT_STORE)`), initialised and closed like `eventStore`. */
  snapshotStore?: SnapshotStore;
  /** Topic prefix (S0-2). Default ''. */
  topicPrefix?: string;
  /**
   * Command types that share a topic (TopicNamingOptions.commandTopics), e.g. every command of
   * one aggregate type, so that a key's commands are handled in send order whatever their type.
   * Alike in every app that sends or handles these types. Default: a topic per type.
   */
  commandTopics?: Readonly<Record<string, string>>;
  /**
   * Event types that share a topic (TopicNamingOptions.eventTopics), e.g. every event of one
   * aggregate type, so that a handler of several of them sees an aggregate's events in order.
   * Alike in every app that publishes or handles these types. Default: a topic per type.
   */
  eventTopics?: Readonly<Record<string, string>>;
  /** Default: in memory (lost on restart — use the Redis one in production). */
  deadLetters?: DeadLetterQueue;
  /**
   * Dead-letter a message delivered more often than this without being settled (one that crashes
   * its consumer; see DeadLetterOptions.maxDeliveries). A positive integer (anything else
   * fails the start with a RangeError naming it). Default: off.
   */
  maxDeliveries?: number;
  /**
   * Called for every message moved to `deadLetters` (DeadLetterOptions.onDeadLetter). Default:
   * a rate-limited process warning naming the message, handler, reason and letter id, which
   * `bootstrapService` logs as a JSON warn line.
   */
  onDeadLetter?: DeadLetterOptions['onDeadLetter'];
  /**
   * Called for every delivery that failed the whole middleware chain and goes back to its
   * transport unacknowledged (RouterOptions.onHandlerError; default: a rate-limited warning).
   */
  onHandlerError?: RouterOptions['onHandlerError'];
  /** Enables the deduplicator middleware (use the Redis store across instances). */
  deduplication?: DeduplicationStore;
  /**
   * How long a deduplication claim holds when its holder dies mid-handling: a message in flight on
   * a killed instance is handled elsewhere after this. A live holder renews it every third of
   * it (stores with `renew`, as both of ours), however long the handling and its retries last;
   * a renewal that fails leaves the claim to lapse until the next one. Default 60 s.
   */
  deduplicationLeaseMs?: number;
  /** In-process retries; `onRetry` is called besides the causeway_messages_retried_total metric, not instead. */
  retry?: RetryOptions;
  /**
   * One breaker per handler (default: opens after 5 transient failures in a row, for 10 s).
   * While it is open the handler is not called: its messages are deferred — left
   * unacknowledged, redelivered later, neither retried nor dead-lettered (maxDeliveries bounds
   * that) — so a command's sender may get CommandTimeoutError. false disables the breakers.
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * S0-9 defaults: events 10 s, commands 30 s (`commandTimeoutMs` is also how long `request`
   * waits for a reply). Positive numbers of milliseconds up to 2 147 483 647: anything else (NaN
   * from an unset environment variable) fails the start with a TypeError naming the option.
   */
  eventTimeoutMs?: number;
  commandTimeoutMs?: number;
  /**
   * CommandBusOptions.clockSkewMs: the allowance before a command's deadline counts. Default 0.
   * A non-negative finite number (else the start fails, naming it).
   */
  commandClockSkewMs?: number;
  /** CommandBusOptions.now: the clock a command's deadline is checked against. Default Date.now. */
  commandClock?: () => number;
  /**
   * Your own middleware, outermost (inside only the recoverer), in this order: e.g.
   * `tracing()` from `@causeway/cqrs-core/opentelemetry`, so a span covers a delivery's
   * metrics, retries and dead letter.
   */
  middleware?: readonly Middleware[];
  /**
   * Started once the handlers are registered and the router is running (or retrying a broker
   * that is away), stopped at shutdown before the router drains, last started first: an
   * `EventForwarder` (the outbox: what the handlers append reaches the bus), a
   * `ProjectionRunner` wrapped as `{ start: () => runner.start(projection), stop: () =>
   * runner.stop() }`, anything with that shape.
   */
  workers?: readonly BackgroundWorker[];
  /**
   * Closed at application shutdown (`onApplicationShutdown`, with the publisher and the stores):
   * after the router drained and Nest closed the HTTP server and microservices (connections
   * the transports use).
   */
  closeOnShutdown?: readonly { close(): Promise<void> }[];
}

/** The options as the module's providers get them: the transports and queue filled in. */
export type ResolvedCqrsCoreOptions = CqrsCoreModuleOptions &
  Required<Pick<CqrsCoreModuleOptions, 'publisher' | 'subscriber' | 'deadLetters'>>;

/** Something the module starts with the application and stops before it closes. */
export interface BackgroundWorker {
  start(): unknown;
  stop(): Promise<void>;
}

export interface CqrsCoreModuleAsyncOptions {
  imports?: unknown[];
  inject?: unknown[];
  useFactory: (...args: never[]) => CqrsCoreModuleOptions | Promise<CqrsCoreModuleOptions>;
}
