import { checkName } from '../config/names.check';
import { fanOutReplayTarget, replayedForAnother } from '../dead-letters/dead-letter-queue.port';
import { runInDeliveryContext, runInMessageContext } from '../messages/message-context';
import { checkSubscribeOptions } from '../transport/subscribe-options.check';
import { InvalidTopicError } from '../transport/transport.errors';
import {
  type Subscriber,
  type SubscribeOptions,
  type SubscriptionHandle,
} from '../transport/transport.port';
import { compose, type Handler, type HandlerInfo, type Middleware } from './handler';
import { type HandlerFailure, warnOfHandlerFailures } from './handler-failure.warning';

export interface HandlerRegistration {
  /** Unique within the router. Hazard: it names the consumer group; renaming re-consumes everything. */
  name: string;
  topics: readonly string[];
  /**
   * The message types the handler takes, when it knows them (the buses say): addHandler refuses
   * a type the subscriber cannot decode (Subscriber.decodes), which would only ever arrive as
   * poison.
   */
  types?: readonly string[];
  handle: Handler;
  /**
   * 'competing': one instance of the service handles each message (group `<service>.<name>`);
   * 'fan-out': every instance gets every message (group `<service>.<name>.<instanceId>`).
   * Or give an explicit `group`.
   */
  mode?: 'competing' | 'fan-out';
  group?: string;
  /** Runs inside the router's middleware, closest to the handler. */
  middleware?: readonly Middleware[];
  /** Runs outside the router's middleware (sees the final outcome, e.g. command replies). */
  outerMiddleware?: readonly Middleware[];
  maxInFlight?: number;
  startFrom?: SubscribeOptions['startFrom'];
  /**
   * The handler is idempotent by itself (it guards by version or writes by id): the
   * deduplicator lets its deliveries through without a claim, saving its two store round trips
   * per message. Leave it unset unless a redelivered or concurrent duplicate changes nothing.
   */
  idempotent?: boolean;
  /**
   * Close this subscription only once every other one has drained (Router.close): for a
   * handler the others wait on while they finish — the command bus's replies, which a handler
   * in flight awaiting `CommandBus.request` needs to get its answer during shutdown. Its own
   * deliveries keep coming until then.
   */
  closeLast?: boolean;
}

export interface RouterOptions {
  subscriber: Subscriber;
  /**
   * Service name: competing groups are shared by its instances. 1 to 200 characters without
   * whitespace or control characters, as `instanceId` (checkName).
   */
  service: string;
  /** This instance: the consumer name and the fan-out group suffix. */
  instanceId: string;
  /**
   * Called for every delivery whose handler chain failed: the outcome that leaves the message
   * unacknowledged, to be delivered again (middleware that settled it — `deadLetter()` storing
   * it, a command's refusal — is not a failure here). Default: warnOfHandlerFailures(), a
   * rate-limited process warning. Errors it throws are ignored.
   */
  onHandlerError?: (failure: HandlerFailure) => void;
}

/**
 * The router's outermost step, one async frame per delivery. It acknowledges, without running
 * anything, a dead letter's replay meant for another consumer group (metadata `replayFor`, see
 * replayEnvelope): the other handlers of the topic handled the message the first time. Outside
 * every middleware, so that no deduplicator, metric or reply sees it. A message without
 * `replayFor` (not a replay, or one for every group) goes on; when its chain fails (the
 * delivery goes back unacknowledged), `report` hears of it before the error is rethrown.
 */
function outermost(
  handler: Handler,
  info: HandlerInfo,
  report: (failure: HandlerFailure) => void,
): Handler {
  return (delivery) => {
    if (replayedForAnother(delivery.envelope, info.group, info.replayFor))
      return Promise.resolve(undefined);
    // What the middleware and the failure report log names the message (log.fields).
    return runInDeliveryContext(delivery.envelope, async () => {
      try {
        return await handler(delivery);
      } catch (error) {
        try {
          report({ handler: info.name, delivery, error });
        } catch {
          // A failing report must not change the delivery's outcome.
        }
        throw error;
      }
    });
  };
}

/**
 * Longest close() waits for a subscribe still in flight to answer (it closes what it gets);
 * one that takes longer is closed when it answers, after close() resolved.
 */
const SUBSCRIBE_WAIT_ON_CLOSE_MS = 1_000;

/** A subscribe error that retrying cannot heal (its transport says so: `permanent: true`). */
function isPermanent(error: unknown): boolean {
  return (error as { permanent?: unknown } | null | undefined)?.permanent === true;
}

/**
 * Dispatches deliveries to handlers through middleware.
 *
 * Order: `outerMiddleware` of the handler → router middleware in `use()` order → handler
 * `middleware` → handler. A dead letter's replay meant for another group (metadata
 * `replayFor`) is acknowledged before all of them, unhandled. A delivery that fails the whole
 * chain goes to `onHandlerError` (a warning by default) before its transport redelivers it.
 * Put dead letter outside retry so
 * that only exhausted messages are dead-lettered:
 * `router.use(recoverer(), metrics(), deadLetter(), retry(), circuitBreaker(), timeout())`.
 */
export class Router {
  private readonly middleware: Middleware[] = [];
  private readonly registrations = new Map<string, HandlerRegistration>();
  private readonly subscriptions: { handle: SubscriptionHandle; last: boolean }[] = [];
  private readonly starting = new Map<string, Promise<void>>();
  private readonly pending = new Set<string>();
  private readonly failed = new Map<string, Error>();
  /**
   * Handlers whose start() stopped because the router closed (during its backoff, or its
   * subscribe answered after close and was closed at once): never subscribed, which
   * subscribed() must not report as true.
   */
  private readonly abandoned = new Set<string>();
  private readonly subscribeErrorListeners: ((name: string, error: unknown) => void)[] = [];
  private state: 'idle' | 'running' | 'closed' = 'idle';
  /** The drain the first close() started (see close). */
  private closing: Promise<void> | undefined;
  /** Aborted by close(): wakes a start() waiting out its backoff, so it does not subscribe again. */
  private readonly closed = new AbortController();
  private readonly reportFailure: (failure: HandlerFailure) => void;

  /**
   * @throws TypeError naming a missing subscriber, or a `service` or `instanceId` that is not a
   *   name (checkName: they name the consumer groups)
   */
  constructor(private readonly options: RouterOptions) {
    if (typeof options?.subscriber?.subscribe !== 'function')
      throw new TypeError(
        'Router: options.subscriber must be a Subscriber (it has no subscribe())',
      );
    for (const name of ['service', 'instanceId'] as const) checkName('Router', name, options[name]);
    this.reportFailure = options.onHandlerError ?? warnOfHandlerFailures();
  }

  /** Adds router-level middleware (before run()). */
  use(...middleware: Middleware[]): this {
    if (this.state !== 'idle') throw new Error('add middleware before the router runs');
    this.middleware.push(...middleware);
    return this;
  }

  /**
   * @throws Error when the name is taken, or when the subscriber cannot decode a type the
   *   registration names (`types`): register it with the serializer the subscriber decodes with
   * @throws TypeError (RangeError for no topics, InvalidTopicError for a topic that is not a
   *   non-empty string) naming the option and the value when the subscription it makes would be
   *   refused by every subscriber (checkSubscribeOptions: e.g. `maxInFlight: 0`, an empty
   *   `group`, a `startFrom` other than 'earliest' or 'latest'), at once rather than by run()
   *   retrying it for ever
   */
  addHandler(registration: HandlerRegistration): this {
    if (this.registrations.has(registration.name)) {
      throw new Error(`a handler named "${registration.name}" is already registered`);
    }
    const owner = `Router.addHandler("${registration.name}")`;
    if (registration.group === '')
      // groupOf would fall back to the default name
      throw new TypeError(`${owner}: options.group must be a non-empty string, got ""`);
    checkSubscribeOptions(owner, registration.topics, this.subscribeOptions(registration));
    const unknown = (registration.types ?? []).filter(
      (type) => this.options.subscriber.decodes?.(type) === false,
    );
    if (unknown.length > 0)
      throw new Error(
        `handler "${registration.name}" takes ${unknown.join(', ')}, which its subscriber's ` +
          'serializer does not know: every such message would be dropped as undecodable. ' +
          'Register the type (SerializerRegistry.register) with the serializer the subscriber ' +
          'decodes with',
      );
    this.registrations.set(registration.name, registration);
    if (this.state === 'running') {
      const started = this.start(registration);
      // Nobody may await it (subscribed() is optional): a start that gives up for good would
      // otherwise be an unhandled rejection, which ends the process. failedSubscriptions()
      // and subscribed() still report it.
      started.catch(() => undefined);
      this.starting.set(registration.name, started);
    }
    return this;
  }

  /**
   * Resolves true once the named handler is subscribed (after run(), or after addHandler on a
   * running router); false if `timeoutMs` passed first (without it, it waits as long as that
   * takes: the router retries a broker that is away).
   * @throws Error when the router is closed (also one closed while this waited, before the
   *   handler could subscribe), or no handler has that name
   */
  async subscribed(name: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
    if (!this.registrations.has(name)) throw new Error(`no handler named "${name}"`);
    const deadline = Date.now() + (options.timeoutMs ?? Infinity);
    for (;;) {
      const starting = this.starting.get(name);
      if (starting) {
        // A start the close cut short resolves too (run() must not fail on it): not subscribed.
        const started = starting.then(() => {
          if (this.abandoned.has(name)) throw new Error('router is closed');
        });
        if (deadline === Infinity) return started.then(() => true);
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
        });
        try {
          return await Promise.race([started.then(() => true), expired]);
        } finally {
          clearTimeout(timer);
        }
      }
      if (this.state === 'closed') throw new Error('router is closed');
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10, deadline - Date.now())));
    }
  }

  /**
   * Called whenever subscribing a handler failed (e.g. the broker is down at start-up); the
   * router keeps trying with capped backoff until it succeeds or the router is closed, except
   * after an InvalidTopicError or an error its transport marks `permanent` (e.g. Kafka's
   * KafkaTopicConfigError), which fail run().
   */
  onSubscribeError(listener: (name: string, error: unknown) => void): this {
    this.subscribeErrorListeners.push(listener);
    return this;
  }

  /** Handlers whose subscription is not in place yet (still being retried). */
  pendingSubscriptions(): string[] {
    return [...this.pending];
  }

  /**
   * Handlers whose subscription gave up for good, with the error that made it: an
   * InvalidTopicError or an error its transport marks `permanent` (see onSubscribeError). They
   * are neither subscribed nor pending, and stay so until the process restarts (with a fixed
   * topic or setting): a health probe fails on them, as run() (or the start of a handler added
   * while running) rejects only once, where nobody may be watching. A closed router's are kept.
   */
  failedSubscriptions(): { handler: string; error: Error }[] {
    return [...this.failed].map(([handler, error]) => ({ handler, error }));
  }

  handlerNames(): string[] {
    return [...this.registrations.keys()];
  }

  /** Every topic a handler subscribes to (metrics, lag). */
  topics(): string[] {
    return [
      ...new Set([...this.registrations.values()].flatMap((registration) => registration.topics)),
    ];
  }

  /**
   * Subscribes every handler; resolves once all subscriptions are in place. A subscription that
   * fails is retried (see onSubscribeError), so this waits for the broker to become reachable.
   * @throws InvalidTopicError at once when a handler's topic is one the transport can never use
   * @throws the transport's error at once when it is marked `permanent` (a setting the broker
   *   refuses, e.g. KafkaTopicConfigError)
   */
  async run(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`router is ${this.state}`);
    this.state = 'running';
    for (const registration of this.registrations.values()) {
      this.starting.set(registration.name, this.start(registration));
    }
    await Promise.all(this.starting.values());
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Whether close() was called (the router takes no delivery any more, nor subscribes). */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Graceful: stops taking deliveries, lets in-flight ones finish and be acknowledged. The
   * handlers registered `closeLast` (the command replies) keep taking theirs until the others
   * have drained, then close. A subscription still being made (addHandler on a running router,
   * run() retrying a broker that is away) is waited for, up to 1 s, and closed; one waiting out
   * its retry backoff is not made. Every call resolves when that drain is over (safe to call twice).
   */
  close(): Promise<void> {
    // A second call (two parts of a shutdown) waits for the same drain: returning at once let
    // its caller close the connections under handlers still running.
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.state = 'closed';
    this.closed.abort();
    const subscriptions = this.subscriptions.splice(0);
    const closing = (last: boolean) =>
      Promise.all(subscriptions.filter((s) => s.last === last).map(({ handle }) => handle.close()));
    // A subscribe still in flight (addHandler on a running router, run() retrying a broker
    // that was away) closes what it gets itself, as the router is closed: wait for it, or that
    // subscription would be closed after close() resolved — after its caller closed the
    // connections under it.
    // Bounded: a subscribe that never answers (a broker away that the transport waits for)
    // must not hold a shutdown for ever.
    let timer: NodeJS.Timeout | undefined;
    const starts = Promise.race([
      Promise.allSettled(this.starting.values()),
      new Promise((resolve) => (timer = setTimeout(resolve, SUBSCRIBE_WAIT_ON_CLOSE_MS))),
    ]).finally(() => clearTimeout(timer));
    // A handler awaiting a command's reply while it drains gets it (closed all at once, the
    // reply went unread: the handler timed out and its retries sent the command again).
    await Promise.all([closing(false), starts]);
    await closing(true);
  }

  groupOf(registration: Pick<HandlerRegistration, 'name' | 'mode' | 'group'>): string {
    if (registration.group) return registration.group;
    const base = `${this.options.service}.${registration.name}`;
    return registration.mode === 'fan-out' ? `${base}.${this.options.instanceId}` : base;
  }

  /** What the handler subscribes with: its group and, for a fan-out one, its replay target. */
  private subscribeOptions(
    registration: HandlerRegistration,
    info = this.infoOf(registration),
  ): SubscribeOptions {
    return {
      group: info.group,
      // Its poison letters replay to every instance of the handler, as its other letters do.
      ...(info.replayFor !== undefined && { replayFor: info.replayFor }),
      consumer: this.options.instanceId,
      maxInFlight: registration.maxInFlight,
      startFrom:
        registration.startFrom ?? (registration.mode === 'fan-out' ? 'latest' : 'earliest'),
    };
  }

  /** What middleware learns of the handler: its name, topics, group and replay target. */
  private infoOf(registration: HandlerRegistration): HandlerInfo {
    const fanOut = registration.mode === 'fan-out' && !registration.group;
    return {
      name: registration.name,
      topics: registration.topics,
      group: this.groupOf(registration),
      ...(fanOut && {
        replayFor: fanOutReplayTarget(`${this.options.service}.${registration.name}`),
      }),
      ...(registration.idempotent && { idempotent: true }),
    };
  }

  private async start(registration: HandlerRegistration): Promise<void> {
    const info = this.infoOf(registration);
    const chain = [
      ...(registration.outerMiddleware ?? []),
      ...this.middleware,
      ...(registration.middleware ?? []),
    ];
    // Every handler runs in its delivery's message context, so the messages it creates carry
    // causationId = this message's id and its correlationId (S1-10) without any middleware.
    const handle = registration.handle;
    const handler = outermost(
      compose(
        chain,
        (delivery) => runInMessageContext(delivery.envelope, () => handle(delivery)),
        info,
      ),
      info,
      this.reportFailure,
    );
    this.pending.add(registration.name);
    for (let attempt = 1; ; attempt++) {
      try {
        const subscription = await this.options.subscriber.subscribe(
          registration.topics,
          this.subscribeOptions(registration, info),
          handler,
        );
        this.pending.delete(registration.name);
        if (this.state === 'closed') {
          this.abandoned.add(registration.name);
          await subscription.close();
          return;
        }
        this.subscriptions.push({
          handle: subscription,
          last: registration.closeLast === true,
        });
        return;
      } catch (error) {
        if (this.state === 'closed') {
          this.pending.delete(registration.name);
          throw error;
        }
        for (const listener of this.subscribeErrorListeners) listener(registration.name, error);
        // A name or a setting the broker can never accept: waiting would hide the mistake, so
        // run() fails (transports mark such errors `permanent`, e.g. KafkaTopicConfigError).
        if (error instanceof InvalidTopicError || isPermanent(error)) {
          this.pending.delete(registration.name);
          this.failed.set(
            registration.name,
            error instanceof Error ? error : new Error(String(error), { cause: error }),
          );
          throw error;
        }
        await this.backoff(Math.min(5_000, 250 * 2 ** Math.min(attempt - 1, 5)));
        // Closed while waiting: subscribing now would open a subscription no one closes.
        if (this.closed.signal.aborted) {
          this.pending.delete(registration.name);
          this.abandoned.add(registration.name);
          return;
        }
      }
    }
  }

  /** Waits `ms`, or until close(). */
  private backoff(ms: number): Promise<void> {
    const signal = this.closed.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
