import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  ContextIdFactory,
  DiscoveryService,
  INQUIRER,
  ModuleRef,
  REQUEST,
  Reflector,
} from '@nestjs/core';
import { type InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { type Envelope } from '../messages/envelope';
import { CommandBus } from '../buses/command-bus';
import { EventBus } from '../buses/event-bus';
import { QueryBus } from '../buses/query-bus';
import { isQueryType, type QueryType } from '../buses/query.type';
import { Router } from '../router/router';
import { type HealthProbe } from '../health/health-probe.port';
import { HealthMonitor } from '../health/health.monitor';
import { BreakerRegistry } from '../middleware/circuit-breaker.middleware';
import { breakersProbe } from '../middleware/breakers.probe';
import { HEALTH_PROBES } from './service.tokens';
import { type Delivery } from '../transport/transport.port';
import {
  COMMAND_HANDLER,
  EVENT_HANDLER,
  QUERY_HANDLER,
  type EventHandlerMetadata,
} from './handler.decorators';
import { credentialsRemoved } from '../connections/connection-target';
import { startupRetryDelayMs } from './connections.lifecycle';
import { CQRS_CORE_OPTIONS } from './cqrs-core.tokens';
import { type BackgroundWorker, type ResolvedCqrsCoreOptions } from './cqrs-core.options';

interface Executes {
  execute(message: unknown, delivery?: Delivery): unknown;
}
interface Handles {
  handle(message: Envelope, delivery: Delivery): unknown;
}

/** What each decorator has the explorer call, and the interface that lets tsc check it. */
const CONTRACTS = {
  '@CommandHandler': { call: 'execute(command, delivery)', implement: 'ICommandHandler' },
  '@EventHandler': { call: 'handle(event, delivery)', implement: 'IEventHandler' },
  '@QueryHandler': { call: 'execute(query)', implement: 'IQueryHandler' },
} as const;

/**
 * The instance, once checked to have the method its decorator has the explorer call.
 * @throws Error naming the class, the decorator and the missing method
 */
function checkedHandler<T>(
  instance: object,
  className: string,
  decorator: keyof typeof CONTRACTS,
): T {
  const { call, implement } = CONTRACTS[decorator];
  const method = call.slice(0, call.indexOf('('));
  if (typeof (instance as Record<string, unknown>)[method] !== 'function')
    throw new Error(
      `${className} is decorated with ${decorator} but has no ${method} method: ` +
        `the bus calls ${call} (implement ${implement} to have the compiler check it)`,
    );
  return instance as T;
}

/**
 * A handler class whose constructor takes parameters but carries no injection metadata (built
 * without `emitDecoratorMetadata`, e.g. by tsx or esbuild, and without `@Inject(...)` on each
 * parameter): Nest constructed it with every dependency undefined, and it would fail on its
 * first message, with a TypeError its sender sees as a rejection.
 * @throws Error naming the class and both ways out
 */
function checkInjectable(
  metatype: abstract new (...args: never[]) => unknown,
  className: string,
): void {
  if (metatype.length === 0) return;
  const reflect = Reflect as unknown as { getMetadata(key: string, target: object): unknown };
  if (reflect.getMetadata('design:paramtypes', metatype) !== undefined) return;
  if (reflect.getMetadata('self:paramtypes', metatype) !== undefined) return;
  throw new Error(
    `${className} takes ${metatype.length} constructor parameter(s) but has no injection ` +
      'metadata, so Nest passed undefined for each: compile with emitDecoratorMetadata ' +
      '(tsc, swc; not tsx or esbuild) or mark each parameter with @Inject(...)',
  );
}

/** The refusal of a handler provided request-scoped or transient. */
function notSingleton(className: string): Error {
  return new Error(
    `${className} is a Causeway handler and must be a singleton ` +
      `(the default scope): it is called for messages, outside any request`,
  );
}

/**
 * Finds @CommandHandler / @EventHandler / @QueryHandler providers, registers them with the buses
 * and starts the router once the app has bootstrapped. At shutdown it stops taking deliveries,
 * lets the ones in flight finish and be acknowledged and closes the subscriber (before Nest
 * closes the HTTP server and microservices), then closes the publisher, the stores and
 * closeOnShutdown (after).
 *
 * Hazard: it looks once, at bootstrap. The handlers of a module loaded later with Nest's
 * LazyModuleLoader are not registered — nothing calls them, and nothing says so — until
 * `registerLoadedHandlers()` is called after the `load()`.
 */
@Injectable()
export class HandlersExplorer
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('CqrsCore');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly router: Router,
    private readonly commands: CommandBus,
    private readonly events: EventBus,
    private readonly queries: QueryBus,
    @Inject(CQRS_CORE_OPTIONS) private readonly options: ResolvedCqrsCoreOptions,
    private readonly breakers: BreakerRegistry,
    @Optional()
    @Inject(HEALTH_PROBES)
    private readonly probes?: (HealthProbe & { critical?: boolean })[],
    @Optional() private readonly monitor?: HealthMonitor,
  ) {}

  private shuttingDown = false;
  /** The handler instances registered with the buses (each once, however often discovered). */
  private readonly registered = new WeakSet<object>();
  /** Each handler class registered → the module that provides it. */
  private readonly providedIn = new Map<object, string>();
  /** Event handler name → the class that took it. */
  private readonly eventHandlers = new Map<string, string>();
  /** The last error of initialising the stores, while they are not initialised. */
  private storesError: string | undefined;
  private wakeStores: (() => void) | undefined;
  /** Stores that came back after the start: the router and the workers starting meanwhile. */
  private background: Promise<void> | undefined;
  /** Why a worker started in the background did not start (the `bus` probe reports it). */
  private workersError: string | undefined;
  private readonly startedWorkers: BackgroundWorker[] = [];
  private signalShutdown: () => void = () => {};
  private readonly shutdownSignal = new Promise<void>((resolve) => (this.signalShutdown = resolve));

  async onApplicationBootstrap(): Promise<void> {
    await this.registerDiscovered();
    // A broker (or the stores' server) that is down at start-up must not stop the service from
    // starting: the stores are initialised and the router subscribes in the background, and
    // the `bus` probe reports it not ready meanwhile.
    let subscribeStalled!: () => void;
    const subscribeFailure = new Promise<void>((resolve) => (subscribeStalled = resolve));
    this.router.onSubscribeError((name, error) => {
      this.logger.warn(`cannot subscribe ${name} (${(error as Error)?.message}); retrying`);
      subscribeStalled();
    });
    let storesStalled!: () => void;
    const storesFailure = new Promise<void>((resolve) => (storesStalled = resolve));
    // The handlers append to the stores: no delivery before their collections and indexes are.
    const storesReady = this.initStores(storesStalled);
    const first = await Promise.race([storesReady, storesFailure.then(() => 'retrying' as const)]);
    if (first === 'retrying') {
      // The stores' server is away: the app starts, and the router and the workers follow once
      // the stores are initialised (the `bus` probe says so meanwhile).
      this.background = storesReady
        .then(async (ready) => {
          if (!ready) return;
          const running = this.runRouter();
          await Promise.race([running, subscribeFailure, this.shutdownSignal]);
          await this.startWorkers();
        })
        .catch((error: unknown) => {
          this.workersError = (error as Error)?.message ?? String(error);
          this.logger.error(`a worker did not start: ${this.workersError}`);
        });
    } else {
      // The workers (the outbox forwarder, projections) start once the router runs (or
      // retries a broker that is away); one that cannot start fails the application's start.
      await Promise.race([this.runRouter(), subscribeFailure]);
      await this.startWorkers();
    }
    // The bus is part of readiness; open breakers are reported but do not fail it.
    this.probes?.push(
      {
        name: 'bus',
        check: async () => {
          if (this.storesError !== undefined)
            throw new Error(`stores not initialised yet: ${this.storesError}`);
          if (this.workersError !== undefined)
            throw new Error(`a worker did not start: ${this.workersError}`);
          if (!this.router.running) throw new Error('router is not running');
          // Before pending: a handler that gave up is not pending, and never will be subscribed.
          const failed = this.router.failedSubscriptions();
          if (failed.length > 0)
            throw new Error(
              `cannot subscribe for good: ${failed
                .map(({ handler, error }) => `${handler} (${error.message})`)
                .join('; ')}`,
            );
          const pending = this.router.pendingSubscriptions();
          if (pending.length > 0) throw new Error(`not subscribed yet: ${pending.join(', ')}`);
        },
      },
      breakersProbe(this.breakers),
    );
    // Record a check with these probes now rather than at the monitor's next period, so that
    // GET /health shows the bus from the start (the monitor may have started before them).
    if (this.probes) void this.monitor?.check();
  }

  /**
   * Registers the handlers of the lazily loaded modules (LazyModuleLoader.load) with the buses
   * and resolves once they are subscribed. The explorer finds the decorated providers once, at
   * application bootstrap; Nest runs no lifecycle hook for a module loaded later, so its
   * handlers are not registered until this is called: call it after each `load()` that brings
   * handlers. Handlers registered already are skipped, so calling it again is harmless.
   * Waits, as start-up does, while the broker is away.
   * @returns the names of the handlers it subscribed (router handler names)
   * @throws Error as the bootstrap does for a handler it refuses (naming the class), or when
   *   the application is shutting down
   */
  async registerLoadedHandlers(): Promise<string[]> {
    if (this.shuttingDown) throw new Error('CqrsCore: the application is shutting down');
    const before = new Set(this.router.handlerNames());
    await this.registerDiscovered();
    const added = this.router.handlerNames().filter((name) => !before.has(name));
    if (this.router.running) await Promise.all(added.map((name) => this.router.subscribed(name)));
    return added;
  }

  /** Registers every decorated provider Nest has built that is not registered yet. */
  private async registerDiscovered(): Promise<void> {
    for (const wrapper of this.discovery.getProviders()) {
      const { instance } = wrapper;
      // A request-scoped (or transient) factory has no instance here, and its metatype is the
      // factory: provided under a handler class, it was skipped, never called, and nothing said
      // so. Its token names the class; under a string or symbol token only what it builds does.
      // (A transient one's tree counts as static when its dependencies are.)
      const scoped = !wrapper.isDependencyTreeStatic() || wrapper.isTransient;
      if (!instance && scoped) {
        if (typeof wrapper.token === 'function') {
          if (this.isDecorated(wrapper.token)) throw notSingleton(wrapper.token.name);
        } else if (wrapper.isFactory) {
          const handler = await this.handlerBuiltBy(wrapper);
          if (handler) throw notSingleton(handler.name);
        }
      }
      if (!instance || this.registered.has(instance)) continue;
      // The class whose decorators count: the provider's own, or the class of the instance a
      // factory or value provider gives (its metatype is the factory, or none: such handlers
      // were skipped, never called, and nothing said so).
      const built =
        wrapper.metatype && this.isDecorated(wrapper.metatype) ? wrapper.metatype : undefined;
      const metatype = built ?? this.decoratedClassOf(instance);
      if (!metatype) continue;
      const className = (metatype as { name: string }).name;
      // Another instance of a class registered already: provided in two modules. The buses'
      // refusals named the class twice ("X already does"), and the event one's advice — another
      // name — would have had each event handled twice, under two consumer groups.
      const module = wrapper.host?.name ?? 'a module';
      const providedIn = this.providedIn.get(metatype);
      if (providedIn !== undefined) {
        const where =
          providedIn === module ? `twice in ${module}` : `in ${providedIn} and in ${module}`;
        throw new Error(
          `${className} is provided ${where}: each would handle the messages as a handler of ` +
            'its own. Provide it in one module, exported from there to the others that inject it',
        );
      }
      // A request-scoped or transient provider has no instance here, only Nest's placeholder
      // without its dependencies: refuse it at start rather than run it half-built.
      if (!wrapper.isDependencyTreeStatic()) throw notSingleton(className);
      // Only a class Nest constructs itself: a factory passes its own arguments.
      if (built) checkInjectable(metatype as abstract new (...args: never[]) => unknown, className);
      const commandTypes = this.reflector.get<string | readonly string[] | undefined>(
        COMMAND_HANDLER,
        metatype,
      );
      if (commandTypes) {
        const handler = checkedHandler<Executes>(instance, className, '@CommandHandler');
        try {
          this.commands.handle(
            commandTypes,
            (command, delivery) => handler.execute(command, delivery),
            { middleware: [], name: className },
          );
        } catch (error) {
          // Name the class: the bus's own message names only types and topics.
          throw new Error(
            `@CommandHandler ${className}: ${(error as Error).message}` +
              (/commandTopics/.test((error as Error).message)
                ? ' (CqrsCoreModule.forRoot({ commandTopics }))'
                : ''),
            { cause: error },
          );
        }
      }
      const event = this.reflector.get<EventHandlerMetadata | undefined>(EVENT_HANDLER, metatype);
      if (event) {
        const handler = checkedHandler<Handles>(instance, className, '@EventHandler');
        if (event.name === undefined)
          this.logger.warn(
            `@EventHandler ${className} has no name: its consumer group is named after the ` +
              'class, so renaming it (or a minifier) starts a new group that consumes every ' +
              "event again. Give it one: @EventHandler(types, { name: '…' })",
          );
        const name = event.name ?? className;
        const taken = this.eventHandlers.get(name);
        if (taken)
          throw new Error(
            `@EventHandler ${className} is named "${name}", as ${taken} is: the name names the ` +
              'consumer group (the events it has handled), so each handler needs its own. ' +
              "Give one of them another: @EventHandler(types, { name: '…' })",
          );
        try {
          this.events.on(event.types, (message, delivery) => handler.handle(message, delivery), {
            name,
            mode: event.mode,
            maxInFlight: event.maxInFlight,
            startFrom: event.startFrom,
            idempotent: event.idempotent,
          });
        } catch (error) {
          // Name the class: the bus's and the router's own messages name only the handler's
          // name (its consumer group), which need not be the class's.
          throw new Error(`@EventHandler ${className}: ${(error as Error).message}`, {
            cause: error,
          });
        }
        this.eventHandlers.set(name, className);
      }
      const queryType = this.reflector.get<string | QueryType | undefined>(QUERY_HANDLER, metatype);
      if (queryType) {
        const handler = checkedHandler<Executes>(instance, className, '@QueryHandler');
        const answer = (query: unknown) => handler.execute(query);
        // With its QueryType, so that a caller by name gets validated parameters too.
        if (isQueryType(queryType)) this.queries.register(queryType, answer, { name: className });
        else this.queries.register(queryType, answer, { name: className });
      }
      this.registered.add(instance);
      this.providedIn.set(metatype, module);
    }
  }

  /**
   * The handler class a request-scoped or transient factory under a token that is not a class
   * builds, if it does: the factory is called once here, in a context of its own without a
   * request. One that cannot be built so (it reads the request) is not taken for a handler.
   */
  private async handlerBuiltBy(wrapper: InstanceWrapper): Promise<{ name: string } | undefined> {
    // Nest's own: the request and the inquirer, which no handler is.
    if (wrapper.token === REQUEST || wrapper.token === INQUIRER) return undefined;
    const moduleRef = wrapper.host?.providers.get(ModuleRef)?.instance as ModuleRef | undefined;
    if (!moduleRef) return undefined;
    let built: unknown;
    try {
      built = await moduleRef.resolve(wrapper.token, ContextIdFactory.create(), { strict: true });
    } catch {
      return undefined;
    }
    return this.decoratedClassOf(built);
  }

  /** Whether the class carries @CommandHandler, @EventHandler or @QueryHandler. */
  private isDecorated(type: object): boolean {
    return [COMMAND_HANDLER, EVENT_HANDLER, QUERY_HANDLER].some(
      (key) => this.reflector.get(key, type as never) !== undefined,
    );
  }

  /** The instance's class when it is decorated as a handler. */
  private decoratedClassOf(
    instance: unknown,
  ): (abstract new (...args: never[]) => unknown) | undefined {
    if (typeof instance !== 'object') return undefined;
    const type = (instance as { constructor?: unknown }).constructor;
    return typeof type === 'function' && this.isDecorated(type)
      ? (type as abstract new (...args: never[]) => unknown)
      : undefined;
  }

  /**
   * `init()`s the event and snapshot stores of the options, retrying with backoff (0.5 s to
   * 5 s) until they are ready; `firstFailure` is told of the first failure. Resolves false
   * when shutdown comes first.
   */
  private async initStores(firstFailure: () => void): Promise<boolean> {
    const stores = [
      ['event store', this.options.eventStore],
      ['snapshot store', this.options.snapshotStore],
    ] as const;
    for (const [name, store] of stores) {
      if (!store) continue;
      for (let attempt = 1; ; attempt++) {
        if (this.shuttingDown) return false;
        try {
          await store.init();
          break;
        } catch (error) {
          // Logged, and shown by the `bus` probe: a driver's error may quote its connection string.
          this.storesError = `${name}: ${credentialsRemoved((error as Error)?.message ?? String(error))}`;
          const delay = startupRetryDelayMs(attempt);
          this.logger.warn(
            `cannot initialise the ${name} (${this.storesError}); retrying in ${delay} ms`,
          );
          firstFailure();
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            this.wakeStores = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      }
    }
    this.storesError = undefined;
    return !this.shuttingDown;
  }

  /** Runs the router in the background; resolves once it runs (or stopped). */
  private runRouter(): Promise<void> {
    return this.router.run().then(
      () => this.logger.log(`router running ${this.router.handlerNames().length} handlers`),
      (error) => this.logger.error(`router stopped: ${(error as Error)?.message}`),
    );
  }

  /** Starts the workers in order, remembering which started (shutdown stops only those). */
  private async startWorkers(): Promise<void> {
    for (const worker of this.options.workers ?? []) {
      if (this.shuttingDown) return;
      await worker.start();
      this.startedWorkers.push(worker);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    this.wakeStores?.();
    this.signalShutdown();
    await this.background;
    // Each step is taken whatever the one before did: a worker that fails to stop (its store
    // down) must not leave the deliveries in flight unacknowledged and the connections open.
    // Nothing new is published (the forwarder finishes its round) before the router drains.
    for (const worker of [...this.startedWorkers].reverse())
      await this.step('stopping a worker', () => worker.stop());
    await this.step('draining the router', () => this.router.close());
    await this.step('closing the command bus', () => this.commands.close());
    await this.step('closing the subscriber', () => this.options.subscriber.close());
  }

  /**
   * Closes what handlers of the app's own may still use after the router drained: Nest closes
   * its HTTP server and microservices (a CausewayTransportServer draining its patterns'
   * handlers) between beforeApplicationShutdown and this hook, and those publish through the
   * bus and append to the stores until they are done.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.step('closing the publisher', () => this.options.publisher.close());
    await this.step('closing the snapshot store', () => this.options.snapshotStore?.close());
    await this.step('closing the event store', () => this.options.eventStore?.close());
    for (const closable of this.options.closeOnShutdown ?? [])
      await this.step('closing a closeOnShutdown connection', () => closable.close());
  }

  /** One step of the shutdown: its failure is logged (error level, with its stack), not thrown. */
  private async step(what: string, run: () => unknown): Promise<void> {
    try {
      await run();
    } catch (error) {
      const reason = credentialsRemoved((error as Error)?.message ?? String(error));
      const stack = (error as Error)?.stack;
      this.logger.error(
        `shutdown: ${what} failed (${reason}); going on`,
        stack === undefined ? undefined : credentialsRemoved(stack),
      );
    }
  }
}
