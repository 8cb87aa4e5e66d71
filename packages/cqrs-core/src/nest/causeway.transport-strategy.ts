import { replayedForAnother } from '../dead-letters/dead-letter-queue.port';
import { shownValue } from '../config/shown-value';
import { credentialsRemoved } from '../connections/connection-target';
import { runInDeliveryContext, runInMessageContext } from '../messages/message-context';
import {
  type CustomTransportStrategy,
  type MessageHandler,
  Server,
  BaseRpcContext,
} from '@nestjs/microservices';
import { compose, type Handler, type Middleware } from '../router/handler';
import { checkSubscribeOptionValues } from '../transport/subscribe-options.check';
import { checkTopic } from '../transport/topic.check';
import {
  type Delivery,
  type Subscriber,
  type SubscriptionHandle,
} from '../transport/transport.port';

/** The context a @EventPattern / @MessagePattern handler gets with `@Ctx()`. */
export class CausewayContext extends BaseRpcContext<[Delivery]> {
  getDelivery(): Delivery {
    return this.args[0];
  }
}

export interface CausewayTransportOptions {
  /** This server's own: closed by close() (the app's close), so do not share it. */
  subscriber: Subscriber;
  /** Consumer group of this service (competing across its instances). */
  group: string;
  /** This instance's consumer name. */
  consumer: string;
  maxInFlight?: number;
  /**
   * Wrapped around every pattern's handler, first outermost, as a Router's (the handler's
   * name is its pattern): e.g. `[deadLetter({ queue }), retry()]`. Without them a handler that
   * keeps failing is delivered again and again, as the transport redelivers what is not
   * acknowledged.
   */
  middleware?: readonly Middleware[];
}

type Status = 'listening' | 'closed';

/** What Nest's default RPC exception filter leaves of an error (see KeepRpcErrors). */
function replacedByNest(error: unknown): boolean {
  return (
    !(error instanceof Error) &&
    typeof error === 'object' &&
    error !== null &&
    (error as { status?: unknown }).status === 'error' &&
    (error as { message?: unknown }).message === 'Internal server error'
  );
}

/**
 * Refuses a `subscriber` without the methods the server calls: unchecked, a connection string
 * or a promise not awaited started, and failed at listen ("reading 'subscribe'") or at close.
 */
function checkSubscriber(subscriber: unknown): void {
  const missing =
    typeof subscriber === 'object' && subscriber !== null
      ? ['subscribe', 'close'].find(
          (m) => typeof (subscriber as Record<string, unknown>)[m] !== 'function',
        )
      : undefined;
  if (typeof subscriber === 'object' && subscriber !== null && missing === undefined) return;
  const got =
    missing === undefined
      ? credentialsRemoved(shownValue(subscriber))
      : `an object without ${missing}`;
  throw new TypeError(
    `CausewayTransportServer: options.subscriber must be a subscriber (with subscribe and ` +
      `close), got ${got}`,
  );
}

/**
 * A Nest microservice transport over any Causeway Subscriber (our Redis Streams, Kafka or
 * in-memory one): each @EventPattern('topic') / @MessagePattern('topic') handler subscribes to
 * that topic and runs in its message's context, as a Router's (the messages it creates carry
 * causationId and correlationId); the delivery is acknowledged when the handler's result (promise or observable)
 * completes, redelivered when it fails (give it `middleware` to retry and dead-letter, and
 * install KeepRpcErrors so they see the error thrown). No maintained Redis Streams transport
 * exists for Nest.
 */
export class CausewayTransportServer
  extends Server<Record<string, never>, Status>
  implements CustomTransportStrategy
{
  private readonly subscriptions: SubscriptionHandle[] = [];
  private warnedOfReplacedErrors = false;

  /**
   * @throws TypeError naming `subscriber` when it is not one (no subscribe or close method)
   * @throws TypeError naming the option and the value when `group`, `consumer` or `maxInFlight`
   *   would be refused by every subscriber (checkSubscribeOptions), before anything listens
   */
  constructor(private readonly options: CausewayTransportOptions) {
    super();
    checkSubscriber(options?.subscriber);
    checkSubscribeOptionValues('CausewayTransportServer', {
      group: options?.group,
      consumer: options?.consumer,
      maxInFlight: options?.maxInFlight,
    });
  }

  /**
   * Refuses a pattern that is not a topic name (Nest calls this for each @EventPattern /
   * @MessagePattern as the microservice starts): Nest turned an object into its JSON text and a
   * number into its digits, and the server subscribed to a topic of that name — which nothing
   * publishes to — without a word.
   * @throws TypeError naming the decorator and the pattern, failing the microservice's start
   * @throws InvalidTopicError for a string no transport takes as a topic (checkTopic: ':' or
   *   white space, e.g. Nest's habit `user:created`), at registration, not at listen()
   */
  override addHandler(
    pattern: unknown,
    callback: MessageHandler,
    isEventHandler = false,
    extras: Record<string, unknown> = {},
  ): void {
    if (typeof pattern !== 'string' || pattern.length === 0)
      throw new TypeError(
        `CausewayTransportServer: the @${isEventHandler ? 'EventPattern' : 'MessagePattern'}` +
          `(${shownValue(pattern)}) handler names no topic: its pattern must be a topic name ` +
          '(a non-empty string), which the server subscribes to',
      );
    // The transports' own rule (no ':' or white space), at registration rather than at listen().
    checkTopic(
      `CausewayTransportServer @${isEventHandler ? 'EventPattern' : 'MessagePattern'}`,
      pattern,
    );
    super.addHandler(pattern, callback, isEventHandler, extras);
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      for (const [pattern, handler] of this.messageHandlers) {
        const { group } = this.options;
        const handle: Handler = async (delivery) => {
          // As a Router's handler: what it creates is caused by this message (S1-10).
          const result = await runInMessageContext(delivery.envelope, () =>
            handler(delivery.envelope, new CausewayContext([delivery])),
          );
          const stream = this.transformToObservable(result);
          return new Promise<void>((resolve, reject) => {
            stream.subscribe({ error: reject, complete: () => resolve() });
          }).catch((error: unknown) => {
            if (replacedByNest(error) && !this.warnedOfReplacedErrors) {
              this.warnedOfReplacedErrors = true;
              process.emitWarning(
                `the ${pattern} handler failed, and Nest's default RPC exception filter replaced ` +
                  "its error with 'Internal server error': retries cannot tell a PermanentError, " +
                  'and dead letters lose the reason. Put @UseFilters(KeepRpcErrors) on its ' +
                  'controller',
                { type: 'CausewayTransportWarning', code: 'CAUSEWAY_RPC_ERROR_REPLACED' },
              );
            }
            throw error;
          });
        };
        const wrapped = compose(this.options.middleware ?? [], handle, {
          name: pattern,
          topics: [pattern],
          group,
        });
        const subscription = await this.options.subscriber.subscribe(
          [pattern],
          { group, consumer: this.options.consumer, maxInFlight: this.options.maxInFlight },
          async (delivery) => {
            // A dead letter's replay for another group: that group alone handles it again.
            if (replayedForAnother(delivery.envelope, group)) return;
            // What the middleware logs names the message (log.fields), as under a Router.
            await runInDeliveryContext(delivery.envelope, () => wrapped(delivery));
          },
        );
        this.subscriptions.push(subscription);
      }
      this._status$.next('listening');
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /**
   * Releases what listen() started, so the process can exit after `app.close()`: stops taking
   * deliveries, lets those in flight finish and be acknowledged (each subscription's close),
   * then closes the Subscriber given in the options, with the connections it opened itself
   * (e.g. the Redis Streams subscriber's blocking-read connections). What the caller created
   * and passed to the Subscriber stays the caller's to close: the Redis client or
   * ManagedConnection, the Kafka client. The Subscriber cannot be reused afterwards.
   * @throws the error of a subscription that failed to close, once the Subscriber is closed
   */
  async close(): Promise<void> {
    const closing = await Promise.allSettled(
      this.subscriptions.splice(0).map((subscription) => subscription.close()),
    );
    // Whatever a subscription's close did: the Subscriber's own connections would keep the
    // process alive until the shutdown timeout.
    await this.options.subscriber.close();
    this._status$.next('closed');
    const failed = closing.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }

  on(): never {
    throw new Error('CausewayTransportServer has no events; read status instead');
  }

  unwrap<T>(): T {
    return this.options.subscriber as T;
  }
}
