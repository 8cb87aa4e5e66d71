import { shownValue } from '../config/shown-value';
import { credentialsRemoved } from '../connections/connection-target';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { type Registry } from 'prom-client';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { QueryBus } from '../buses/query-bus';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { DocumentStore } from '../documents/document.store';
import { type EventStore } from '../event-store/event-store.port';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { MessagingMetrics } from '../metrics/messaging.metrics';
import { BreakerRegistry, circuitBreaker } from '../middleware/circuit-breaker.middleware';
import { correlation } from '../middleware/correlation.middleware';
import { checkMaxDeliveries, deadLetter } from '../middleware/dead-letter.middleware';
import { checkClockSkewMs } from '../buses/command.deadline';
import { checkDelayMs } from '../event-store/event-store.rules';
import { deduplicator } from '../middleware/deduplicator.middleware';
import { recoverer } from '../middleware/recoverer.middleware';
import { retry } from '../middleware/retry.middleware';
import { timeout } from '../middleware/timeout.middleware';
import { type Middleware } from '../router/handler';
import { Router } from '../router/router';
import { topicNaming } from '../transport/topic.naming';
import { type Publisher } from '../transport/transport.port';
import {
  type CqrsCoreModuleAsyncOptions,
  type CqrsCoreModuleOptions,
  type ResolvedCqrsCoreOptions,
} from './cqrs-core.options';
import {
  BUS_PUBLISHER,
  CQRS_CORE_OPTIONS,
  DEAD_LETTER_QUEUE,
  EVENT_STORE,
  MESSAGING_METRICS,
  SNAPSHOT_STORE,
} from './cqrs-core.tokens';
import { HandlersExplorer } from './handlers.explorer';
import { checkName } from '../config/names.check';
import { METRICS_REGISTRY } from './service.tokens';

/**
 * The router's middleware, outermost first: recoverer → yours (options.middleware, e.g.
 * tracing) → metrics → dead letter → deduplicator
 * → retry → circuit breaker → timeout → correlation → handler. Dead letter sits outside retry so
 * only exhausted messages are dead-lettered; the breaker sits inside retry so an open circuit
 * defers the message instead of burning its attempts.
 */
function buildRouter(
  options: ResolvedCqrsCoreOptions,
  breakers: BreakerRegistry,
  metrics?: MessagingMetrics,
): Router {
  const router = new Router({
    subscriber: options.subscriber,
    service: options.service,
    instanceId: options.instanceId,
    ...(options.onHandlerError && { onHandlerError: options.onHandlerError }),
  });
  const naming = topicNaming(options.topicPrefix);
  if (metrics) metrics.watchBreakers(breakers);
  const commandPrefix = naming.command('');
  const stack: Middleware[] = [recoverer(), ...(options.middleware ?? [])];
  if (metrics) stack.push(metrics.middleware());
  // One judgement of which errors are permanent for the whole stack (a review, session 35: an
  // error retry.classify called permanent was given up at once, then taken for transient by
  // deadLetter and the breaker — redelivered for ever, and the handler's circuit opened).
  const classify = options.retry?.classify;
  stack.push(
    deadLetter({
      queue: options.deadLetters!,
      maxDeliveries: options.maxDeliveries,
      ...(classify && { classify }),
      ...(options.onDeadLetter && { onDeadLetter: options.onDeadLetter }),
    }),
  );
  if (options.deduplication)
    stack.push(
      deduplicator({ store: options.deduplication, leaseMs: options.deduplicationLeaseMs }),
    );
  // The metric counts every retry whether or not the app has its own hook too.
  const onRetry = options.retry?.onRetry;
  stack.push(
    retry({
      ...options.retry,
      onRetry:
        metrics && onRetry
          ? (event) => {
              metrics.onRetry(event);
              onRetry(event);
            }
          : (onRetry ?? metrics?.onRetry),
    }),
  );
  if (options.circuitBreaker !== false)
    stack.push(
      circuitBreaker({
        ...(classify && { classify }),
        ...options.circuitBreaker,
        registry: breakers,
      }),
    );
  stack.push(
    timeout((delivery) =>
      delivery.topic.startsWith(commandPrefix)
        ? (options.commandTimeoutMs ?? 30_000)
        : (options.eventTimeoutMs ?? 10_000),
    ),
    correlation(),
  );
  return router.use(...stack);
}

function providers(): Provider[] {
  return [
    BreakerRegistry,
    QueryBus,
    {
      provide: MESSAGING_METRICS,
      inject: [{ token: METRICS_REGISTRY, optional: true }],
      useFactory: (registry?: Registry) => (registry ? new MessagingMetrics(registry) : undefined),
    },
    {
      // What the buses publish with: counted in causeway_messages_published_total.
      provide: BUS_PUBLISHER,
      inject: [CQRS_CORE_OPTIONS, MESSAGING_METRICS],
      useFactory: (options: ResolvedCqrsCoreOptions, metrics?: MessagingMetrics) =>
        metrics ? metrics.instrument(options.publisher) : options.publisher,
    },
    {
      provide: Router,
      inject: [CQRS_CORE_OPTIONS, BreakerRegistry, MESSAGING_METRICS],
      useFactory: (
        options: ResolvedCqrsCoreOptions,
        breakers: BreakerRegistry,
        metrics?: MessagingMetrics,
      ) => buildRouter(options, breakers, metrics),
    },
    {
      provide: DEAD_LETTER_QUEUE,
      inject: [CQRS_CORE_OPTIONS],
      useFactory: (options: ResolvedCqrsCoreOptions) => options.deadLetters,
    },
    {
      provide: CommandBus,
      inject: [CQRS_CORE_OPTIONS, Router, BUS_PUBLISHER],
      useFactory: (options: ResolvedCqrsCoreOptions, router: Router, publisher: Publisher) =>
        new CommandBus({
          publisher,
          router,
          naming: topicNaming(options.topicPrefix, { commandTopics: options.commandTopics }),
          serializer: options.serializer,
          instanceId: options.instanceId,
          timeoutMs: options.commandTimeoutMs,
          clockSkewMs: options.commandClockSkewMs,
          ...(options.commandClock && { now: options.commandClock }),
        }),
    },
    {
      provide: EventBus,
      inject: [CQRS_CORE_OPTIONS, Router, BUS_PUBLISHER],
      useFactory: (options: ResolvedCqrsCoreOptions, router: Router, publisher: Publisher) =>
        new EventBus({
          publisher,
          router,
          naming: topicNaming(options.topicPrefix, { eventTopics: options.eventTopics }),
          serializer: options.serializer,
        }),
    },
    {
      provide: EVENT_STORE,
      inject: [CQRS_CORE_OPTIONS],
      useFactory: (options: ResolvedCqrsCoreOptions) =>
        options.eventStore ?? unconfigured('eventStore', 'EVENT_STORE'),
    },
    {
      provide: SNAPSHOT_STORE,
      inject: [CQRS_CORE_OPTIONS],
      useFactory: (options: ResolvedCqrsCoreOptions) =>
        options.snapshotStore ?? unconfigured('snapshotStore', 'SNAPSHOT_STORE'),
    },
    {
      // Event-sourced documents (S4) over the module's event store, for handlers to inject.
      provide: DocumentStore,
      inject: [CQRS_CORE_OPTIONS, EVENT_STORE],
      useFactory: (options: ResolvedCqrsCoreOptions, eventStore: EventStore) =>
        new DocumentStore({ eventStore: options.eventStore ? eventStore : deferred(eventStore) }),
    },
    HandlersExplorer,
  ];
}

/** The methods of the store ports: what a handler would call on an injected store. */
const STORE_METHODS = new Set([
  'init',
  'append',
  'readStream',
  'readAll',
  'readAllPage',
  'subscribe',
  'streamInfo',
  'deleteStream',
  'truncateStream',
  'applyRetention',
  'save',
  'loadLatest',
  'list',
  'delete',
  'close',
]);

/**
 * What EVENT_STORE / SNAPSHOT_STORE inject when the option is not set: an object whose store
 * methods throw, naming the option — not `undefined`, which would fail far from the cause.
 * Anything else reads as undefined (Nest looks for lifecycle hooks on every provider).
 */
function unconfigured(option: string, token: string): object {
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (typeof property !== 'string' || !STORE_METHODS.has(property)) return undefined;
        throw new Error(
          `CqrsCoreModule: ${token} was injected but options.${option} is not set ` +
            `(reading ${property})`,
        );
      },
    },
  );
}

/**
 * The unconfigured EVENT_STORE as DocumentStore takes it: Nest builds every provider at start,
 * and DocumentStore checks its event store's methods when built, which reading them on
 * `unconfigured` refused — every app without options.eventStore failed its start. Its methods
 * are functions here; a call throws the named error, so only a use of the DocumentStore does.
 */
function deferred(store: EventStore): EventStore {
  const methods = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  return new Proxy({} as EventStore, {
    get: (_target, property) =>
      typeof property === 'string' && STORE_METHODS.has(property)
        ? (...args: unknown[]) => methods[property]!(...args)
        : undefined,
  });
}

const EXPORTS = [
  // registerLoadedHandlers(), for the handlers of a lazily loaded module.
  HandlersExplorer,
  Router,
  CommandBus,
  EventBus,
  QueryBus,
  BreakerRegistry,
  DEAD_LETTER_QUEUE,
  CQRS_CORE_OPTIONS,
  BUS_PUBLISHER,
  // The app's messaging metrics (undefined without a registry): for routers of the app's own,
  // e.g. a Kafka consumer beside the bus, and publishers beside the bus's.
  MESSAGING_METRICS,
  EVENT_STORE,
  SNAPSHOT_STORE,
  DocumentStore,
];

/**
 * CQRS for a Nest app (like @nestjs/cqrs, with the transport seam in the options): command,
 * event and query buses over a Publisher/Subscriber of your choice, handlers found by the
 * @CommandHandler / @EventHandler / @QueryHandler decorators, graceful shutdown.
 *
 * Hazard: the handlers are drained in `beforeApplicationShutdown`, which Nest runs after every
 * `onModuleDestroy`. Release what handlers use (pools, clients) in `onApplicationShutdown`, as
 * the library's own connections do, or a handler still in flight meets it closed.
 */
@Module({})
export class CqrsCoreModule {
  static forRoot(options: CqrsCoreModuleOptions): DynamicModule {
    return {
      module: CqrsCoreModule,
      global: true,
      imports: [DiscoveryModule],
      providers: [{ provide: CQRS_CORE_OPTIONS, useValue: checked(options) }, ...providers()],
      exports: EXPORTS,
    };
  }

  static forRootAsync(options: CqrsCoreModuleAsyncOptions): DynamicModule {
    return {
      module: CqrsCoreModule,
      global: true,
      imports: [DiscoveryModule, ...((options.imports ?? []) as DynamicModule[])],
      providers: [
        {
          provide: CQRS_CORE_OPTIONS,
          inject: (options.inject ?? []) as never[],
          useFactory: async (...args: unknown[]) =>
            checked(await (options.useFactory as (...a: unknown[]) => unknown)(...args)),
        },
        ...providers(),
      ],
      exports: EXPORTS,
    };
  }
}

/**
 * The options with their defaults filled in (the in-memory dead-letter queue, so that the
 * DEAD_LETTER_QUEUE provider and the router share it), after checking what is required.
 * @throws TypeError naming a missing option, or a `service` or `instanceId` that is not a name
 *   (checkName)
 * @throws TypeError or RangeError naming a numeric option that would break every message (see
 *   checkNumbers)
 */
function checked(options: unknown): ResolvedCqrsCoreOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(
      `CqrsCoreModule: the options must be an object, got ${shownValue(options)}`,
    );
  const given = options as Partial<CqrsCoreModuleOptions>;
  for (const name of ['service', 'instanceId'] as const)
    if (given[name] === undefined)
      throw new TypeError(`CqrsCoreModule: options.${name} is required`);
    else checkName('CqrsCoreModule', name, given[name]);
  if (!given.serializer) throw new TypeError('CqrsCoreModule: options.serializer is required');
  checkNumbers(given);
  checkPorts(given);
  checkTransport(given);
  // Neither, and said so: one in-process broker (the embedded mode, tests), closed with the app.
  const broker = given.publisher
    ? undefined
    : new InMemoryBroker({ serializer: given.serializer! });
  return {
    ...(given as ResolvedCqrsCoreOptions),
    // Closed at shutdown as any publisher is.
    ...(broker && { publisher: broker, subscriber: broker.subscriber() }),
    deadLetters: given.deadLetters ?? new InMemoryDeadLetterQueue({ serializer: given.serializer }),
  };
}

/**
 * A transport given as `publisher` and `subscriber`, or asked for as `transport: 'in-memory'`:
 * never an in-process bus by default, which an app whose transport options came out undefined
 * ran on without a word (its messages never left the process).
 * @throws TypeError naming the options missing or at odds
 */
function checkTransport(given: Partial<CqrsCoreModuleOptions>): void {
  if (given.transport !== undefined && given.transport !== 'in-memory')
    throw new TypeError(
      `CqrsCoreModule: options.transport must be 'in-memory' or unset, got ${shownValue(given.transport)}`,
    );
  if (!given.publisher !== !given.subscriber)
    throw new TypeError(
      `CqrsCoreModule: options.${given.publisher ? 'subscriber' : 'publisher'} is required with ` +
        `options.${given.publisher ? 'publisher' : 'subscriber'} (give both, or neither with ` +
        "transport: 'in-memory' for an in-process broker)",
    );
  if (given.publisher && given.transport === 'in-memory')
    throw new TypeError(
      "CqrsCoreModule: options.transport: 'in-memory' builds its own broker: give it without " +
        'options.publisher and options.subscriber, or them without it',
    );
  if (!given.publisher && given.transport !== 'in-memory')
    throw new TypeError(
      'CqrsCoreModule: options.publisher and options.subscriber are required (a transport: ' +
        "Redis Streams, Kafka), or transport: 'in-memory' for an in-process broker " +
        '(one process, nothing kept)',
    );
}

/** The options that are ports (and lists of them): what each must be, the methods it is called by. */
const PORTS: readonly { name: keyof CqrsCoreModuleOptions; what: string; methods: string[] }[] = [
  { name: 'publisher', what: 'a publisher', methods: ['publish', 'close'] },
  { name: 'subscriber', what: 'a subscriber', methods: ['subscribe', 'close'] },
  {
    name: 'eventStore',
    what: 'an event store',
    methods: ['init', 'append', 'readStream', 'readAllPage', 'subscribe', 'close'],
  },
  {
    name: 'snapshotStore',
    what: 'a snapshot store',
    methods: ['init', 'save', 'loadLatest', 'close'],
  },
  { name: 'deadLetters', what: 'a dead-letter queue', methods: ['add', 'list'] },
];
const LISTS: readonly { name: keyof CqrsCoreModuleOptions; what: string; methods: string[] }[] = [
  { name: 'workers', what: 'a worker', methods: ['start', 'stop'] },
  { name: 'closeOnShutdown', what: 'a connection', methods: ['close'] },
];

/** `value` as an error shows it: an object by the method it lacks, else shownValue. */
function lacking(value: unknown, methods: readonly string[]): string | undefined {
  // A connection string given where its client belongs may hold a password.
  if (typeof value !== 'object' || value === null) return credentialsRemoved(shownValue(value));
  const missing = methods.find((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  return missing === undefined ? undefined : `an object without ${missing}`;
}

/** `a, b and c`. */
const listed = (names: readonly string[]) =>
  names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;

/**
 * The ports given, checked at start for the methods they are called by. One that is not a port
 * (a factory's promise not awaited, a URL where the client belongs) started: the stores' `init`
 * was retried for ever ("store.init is not a function": the app up, never ready), the others
 * failed at their first use, far from the setting.
 * @throws TypeError naming the option, what it must be and what was given
 */
function checkPorts(given: Partial<CqrsCoreModuleOptions>): void {
  for (const { name, what, methods } of PORTS) {
    const value: unknown = given[name];
    if (value === undefined) continue;
    const got = lacking(value, methods);
    if (got !== undefined)
      throw new TypeError(
        `CqrsCoreModule: options.${name} must be ${what} (with ${listed(methods)}), got ${got}`,
      );
  }
  for (const { name, what, methods } of LISTS) {
    const value: unknown = given[name];
    if (value === undefined) continue;
    if (!Array.isArray(value))
      throw new TypeError(
        `CqrsCoreModule: options.${name} must be an array of ${what.replace(/^an? /, '')}s ` +
          `(with ${listed(methods)}), got ${typeof value === 'object' && value !== null ? 'an object' : shownValue(value)}`,
      );
    value.forEach((item: unknown, index) => {
      const got = lacking(item, methods);
      if (got !== undefined)
        throw new TypeError(
          `CqrsCoreModule: options.${name}[${index}] must be ${what} (with ${listed(methods)}), got ${got}`,
        );
    });
  }
}

/**
 * The numeric options, checked at start: each is used per message, so a value read from the
 * environment without coercion (`Number(undefined)` is NaN) would otherwise fail every one —
 * a NaN or negative handler timeout fails every handling (dead-lettered after the retries), a
 * NaN command timeout rejects every request at once, a NaN clock skew expires every command
 * with a deadline, `maxDeliveries: 0` dead-letters every message unhandled.
 */
function checkNumbers(given: Partial<CqrsCoreModuleOptions>): void {
  checkDelayMs('CqrsCoreModule: options.eventTimeoutMs', given.eventTimeoutMs);
  checkDelayMs('CqrsCoreModule: options.commandTimeoutMs', given.commandTimeoutMs);
  checkClockSkewMs('CqrsCoreModule: options.commandClockSkewMs', given.commandClockSkewMs);
  checkMaxDeliveries('CqrsCoreModule: options.maxDeliveries', given.maxDeliveries);
}
