import { type CommandEnvelope, type Envelope } from '../messages/envelope';
import { errorNameOf } from '../messages/error.name';
import { resultSchemaMadeWith } from '../messages/command.result-schema';
import { type MessageSchema, type SerializerRegistry } from '../messages/serializer.registry';
import { namesOfType } from '../messages/type.names';
import {
  type EnvelopeOf,
  isMessageType,
  type MessageResultInput,
  type MessageType,
  type MessageTypes,
  type MessageTypesIn,
  typeNamesOf,
} from '../messages/message.type';
import { replyResult, requestResult } from './command.result';
import { DEAD_LETTER_WARNING, DeadLettered } from '../middleware/dead-letter.middleware';
import { throttledWarning } from '../router/throttled.warning';
import { ResultNotKept } from '../middleware/deduplicator.middleware';
import { type Middleware, UNSETTLED } from '../router/handler';
import { DomainError } from '../router/handler.errors';
import { type Router } from '../router/router';
import { checkMaxInFlight } from '../transport/subscribe-options.check';
import { type TopicNaming } from '../transport/topic.naming';
import { type Delivery, type Publisher } from '../transport/transport.port';
import { MessageTooLargeError, MessageValidationError } from '../messages/message.errors';
import { checkDelayMs } from '../event-store/event-store.rules';
import { checkClockSkewMs, deadlineOf, withDeadline } from './command.deadline';
import { COMMAND_REPLY, type CommandReply, CommandReplySchema, reply } from './command.reply';
import {
  CommandBusClosedError,
  CommandExpiredError,
  CommandRejectedError,
  CommandResultNotKeptError,
  CommandTimeoutError,
  DuplicateHandlerError,
  ReplyNotSentError,
  SharedTopicHandledError,
  UnhandledCommandTypeError,
} from './bus.errors';

export { COMMAND_REPLY } from './command.reply';
const REPLIES_HANDLER = 'command-replies';

export interface CommandBusOptions {
  publisher: Publisher;
  router: Router;
  naming: TopicNaming;
  /** The command reply type is registered here. */
  serializer: SerializerRegistry;
  /** This instance: replies to its requests come to `naming.reply(instanceId)`. */
  instanceId: string;
  /** S0-9 command timeout: a positive number of milliseconds up to 2 147 483 647. Default 30 s. */
  timeoutMs?: number;
  /**
   * Receiving side: how far this host's clock may run ahead of the senders' before a deadline
   * counts — a command expires once `now > deadline + clockSkewMs`: a non-negative finite
   * number. Default 0 (hosts synced by NTP differ by milliseconds); raise it if yours drift, as
   * a fast clock here expires commands early and a slow one applies them late.
   */
  clockSkewMs?: number;
  /**
   * Receiving side: the clock deadlines are checked against, in epoch milliseconds. Default
   * `Date.now`. Give every instance, and the senders' MessageFactory, one shared clock (a
   * server's: see the reference system's ServerClock over Redis `TIME`) and the hosts' own
   * clocks stop mattering.
   */
  now?: () => number;
}

/** Options of `CommandBus.send`. */
export interface SendOptions {
  /**
   * The command must be handled within this many milliseconds of its creation
   * (`metadata.timestamp`; of the send when that is not a time): the bus sets
   * `metadata.deadline` to that instant (ISO 8601), keeping an earlier deadline the command
   * already carries. Once it has passed, the receiving CommandBus refuses the command without
   * running its handler (CommandExpiredError), on every attempt — also a retry, or a redelivery
   * after a crash. Unset: the command keeps the deadline it carries, or has none.
   */
  deadlineMs?: number;
}

/** Options of `CommandBus.request`. */
export interface RequestOptions extends SendOptions {
  /**
   * How long to wait for the reply. Default CommandBusOptions.timeoutMs. It does not imply a
   * deadline: without `deadlineMs`, a command whose reply timed out may still be handled later.
   * Give both (`deadlineMs` ≤ `timeoutMs`) for "handled in time, or certainly not at all": the
   * reply is then the result or a CommandExpiredError — or a CommandTimeoutError when the
   * command did not reach its handler at all within the timeout (it expires when it does).
   */
  timeoutMs?: number;
}

/**
 * What a command handler's DomainError becomes, and a command that expired before its handler
 * ran (the error is then a CommandExpiredError): the delivery's result (so it is acknowledged,
 * not retried or dead-lettered), which the sender gets as a CommandRejectedError. An
 * `outerMiddleware` sees it, e.g. to record that the command was refused or expired.
 */
export class Refusal {
  /** Nothing was changed: a redelivery asks the handler again (see UNSETTLED). */
  readonly [UNSETTLED] = true;
  constructor(readonly error: DomainError | CommandExpiredError) {}
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  /** The command as sent (its type and deadline name a CommandExpiredError). */
  sent: Envelope;
  /** The result schema of the type the command was made from (MessageFactory.command). */
  made?: MessageSchema;
}

/** Options of `CommandBus.handle`. */
export interface CommandHandlerOptions {
  maxInFlight?: number;
  middleware?: readonly Middleware[];
  outerMiddleware?: readonly Middleware[];
  /** See HandlerRegistration.idempotent: no deduplication claim for its deliveries. */
  idempotent?: boolean;
  /** Who handles it (e.g. its class), named by DuplicateHandlerError. Default the function's name. */
  name?: string;
  /**
   * For types that share a topic (TopicNamingOptions.commandTopics): also consume each type's
   * own topic, `commands.<Type>`, in its own group as before, so that commands sent there before
   * the upgrade (or by senders not upgraded yet) are handled rather than stranded. A transition:
   * commands of one key in the two topics are not ordered with each other, and each own topic
   * costs a subscription. Turn it off once the own topics are empty. Ignored for a type that
   * keeps its own topic.
   */
  drainOwnTopics?: boolean;
}

/**
 * Commands: exactly one handler per type across the deployment (S0-1) — every handler of a
 * topic joins its competing group (`commands.<Type>`, or `commands.<Topic>` for types sharing a
 * topic), so each command is handled once, and the commands of a key on one topic in send order
 * whatever their type. `send` resolves once the broker accepted the command; `request` also
 * awaits the handler's result or its final error (after retries / dead letter), up to the timeout.
 */
export class CommandBus {
  /** Command type → the name of its handler (undefined when it has none). */
  private readonly handled = new Map<string, string | undefined>();
  /** Topic → the types its handler was registered for and its name. */
  private readonly topics = new Map<string, { types: readonly string[]; name?: string }>();
  /** messageId → the requests awaiting its reply (one per request() call; a retried send adds one). */
  private readonly waiting = new Map<string, Waiting[]>();
  private closed = false;
  private repliesRegistered = false;
  private readonly naming: TopicNaming;

  /**
   * @throws TypeError when `serializer` is not a SerializerRegistry (a JsonSerializer, say): the
   *   bus registers its reply type in it, which only a registry can hold
   * @throws TypeError (RangeError for the skew) naming `timeoutMs` when it is not a positive
   *   number of milliseconds up to 2 147 483 647, or `clockSkewMs` when it is not a
   *   non-negative finite number
   */
  constructor(private readonly options: CommandBusOptions) {
    const serializer: Partial<SerializerRegistry> | undefined = options.serializer;
    if (typeof serializer?.has !== 'function' || typeof serializer.register !== 'function')
      throw new TypeError(
        'CommandBus: options.serializer must be a SerializerRegistry with every command type ' +
          `registered, got ${serializer?.constructor?.name ?? String(serializer)}: the bus ` +
          `registers its replies' type (${COMMAND_REPLY}) in it, and the transport must decode ` +
          'with that same registry to read the replies',
      );
    // A NaN timeout rejects every request at once; a NaN skew expires every deadline.
    checkDelayMs('CommandBus: options.timeoutMs', options.timeoutMs);
    checkClockSkewMs('CommandBus: options.clockSkewMs', options.clockSkewMs);
    if (!options.serializer.has(COMMAND_REPLY))
      options.serializer.register(COMMAND_REPLY, CommandReplySchema);
    this.naming = options.naming;
  }

  /** The topic a command type is sent to and handled from. */
  topicOf(type: string): string {
    return this.naming.command(type);
  }

  /**
   * The consumer group its handler consumes `topicOf(type)` in, on every instance. Types that
   * share a topic share its group only with a naming that names the topic
   * (`commandTopicName`, as topicNaming's `commandTopics` does).
   */
  groupOf(type: string): string {
    return `commands.${this.naming.commandTopicName?.(type) ?? type}`;
  }

  /**
   * Registers the handler of one command type, or of several types that share a topic (one
   * handler, one consumer group: a key's commands are handled in send order whatever their
   * type); its resolved value is the reply's result. A DomainError it throws refuses the
   * command: the reply is that error, and the command is acknowledged (see Refusal). A command
   * of another type arriving on the topic is dead-lettered at once (UnhandledCommandTypeError).
   * `middleware` runs inside the router's stack (within retry); `outerMiddleware` runs outside
   * it, inside the replier, and sees the final outcome — e.g. a `DeadLettered` result after the
   * retries were spent, to record that the command failed for good.
   * A command whose `metadata.deadline` has passed (see SendOptions.deadlineMs) is refused
   * before the handler runs, on every attempt: the result is a `Refusal` with a
   * CommandExpiredError, so it is not retried nor dead-lettered. Hazard: a redelivery after a
   * crash mid-handling expires too, although the first attempt may have taken effect; an
   * `outerMiddleware` that records expiries should check for that (and may answer with what
   * did happen instead). A deadline that is not an ISO-8601 time is dead-lettered at once
   * (InvalidCommandDeadlineError).
   * With {@link MessageType}s the handler's envelope is typed (a union for several types).
   * Of a type that declares its result (`messageType(…, { result })`, or registered with one in
   * the SerializerRegistry), the compiler refuses a handler answering another shape than the
   * schema's input (`MessageResultInput`; of several types, the union of the results they
   * declare), and the bus checks the handler's value as the requester will receive it — its
   * JSON form — against the schema before replying with that JSON (the requester parses it into
   * the schema's output). A value that does not match, or cannot be checked (an async schema, a
   * transform that throws, no JSON form), is the handler's bug — CommandResultInvalidError, a
   * PermanentError, so the command is dead-lettered at once, the handler not run again (its
   * effects stay), and the requester gets a CommandRejectedError naming the field.
   * A deduplicator's `ResultNotKept` (a repeated command whose first result was not kept) is
   * answered with a CommandResultNotKeptError.
   * Type arguments: `handle<Data>(name, …)` types the data of commands given by name; with
   * message types write none (the types give the envelope and the answer).
   * @throws DuplicateHandlerError when a type already has a handler, naming both when known
   * @throws SharedTopicHandledError when the types' shared topic already has a handler
   * @throws Error when the types do not all go to one topic
   */
  handle<M extends MessageType>(
    types: M | readonly M[],
    handler: (
      command: EnvelopeOf<M>,
      delivery: Delivery,
    ) => Promise<MessageResultInput<M>> | MessageResultInput<M>,
    options?: CommandHandlerOptions,
  ): this;
  handle<Data = unknown>(
    types: string | readonly string[],
    handler: (command: Envelope<Data>, delivery: Delivery) => unknown,
    options?: CommandHandlerOptions,
  ): this;
  // Names mixed with message types. No Data parameter: an explicit `handle<Data>(Deposit, …)`
  // would otherwise land here with its types defaulted, and its answer unchecked.
  handle<Types extends MessageTypes>(
    types: Types,
    // The results the message types among them declare: so that a handler the first overload
    // refused for its answer is not accepted here instead.
    handler: (command: Envelope, delivery: Delivery) => Promise<AnswerOf<Types>> | AnswerOf<Types>,
    options?: CommandHandlerOptions,
  ): this;
  handle(
    types: MessageTypes,
    handler: (command: Envelope, delivery: Delivery) => Promise<unknown> | unknown,
    options: CommandHandlerOptions = {},
  ): this {
    const list = typeNamesOf(types);
    if (list.length === 0) throw new Error('CommandBus.handle: give at least one command type');
    // The result schemas the types given declare; the registry's for types given by name.
    const declared = new Map<string, MessageSchema>();
    for (const type of Array.isArray(types) ? types : [types])
      if (isMessageType(type) && type.result !== undefined) declared.set(type.type, type.result);
    const resultSchemaOf = (type: string) =>
      declared.get(type) ?? this.options.serializer.resultSchema(type);
    // Before anything is registered (the router would refuse it, half-way through).
    checkMaxInFlight('CommandBus.handle', options.maxInFlight);
    const name = options.name ?? (handler.name || undefined);
    // A type and its former names (SerializerRegistry.formerNames) are one type.
    const namesOf = (type: string) => namesOfType(this.options.serializer, type);
    const names = [...new Set(list.flatMap(namesOf))];
    for (const type of names)
      if (this.handled.has(type))
        throw new DuplicateHandlerError(type, {
          kind: 'command',
          registered: this.handled.get(type),
          duplicate: name,
        });
    const topic = this.naming.command(list[0]!);
    const apart = list.find((type) => this.naming.command(type) !== topic);
    if (apart !== undefined)
      throw new Error(
        `CommandBus.handle: ${list[0]} goes to ${topic} and ${apart} to ${this.naming.command(apart)}; ` +
          'one handler takes the types of one topic (TopicNamingOptions.commandTopics)',
      );
    const taken = this.topics.get(topic);
    if (taken)
      throw new SharedTopicHandledError(topic, taken.types, list, {
        registered: taken.name,
        duplicate: name,
      });
    // Senders of the previous release still send a renamed type under its former name, to the
    // former name's own topic: that topic is served too, in the group the previous release
    // consumed it with, for as long as the registry lists the former name. A former name the
    // naming sends to a shared topic is left to that topic's handler (map the new name there
    // too: commandTopics). Checked before anything is registered.
    const formerTopics = new Map<string, string>(); // topic → former name
    for (const type of list)
      for (const former of namesOf(type)) {
        const at = this.naming.command(former);
        const own = (this.naming.commandTopicName?.(former) ?? former) === former;
        if (at === topic || formerTopics.has(at) || !own) continue;
        const holder = this.topics.get(at);
        if (holder)
          throw new SharedTopicHandledError(at, holder.types, list, {
            registered: holder.name,
            duplicate: name,
          });
        formerTopics.set(at, former);
      }
    for (const type of names) this.handled.set(type, name);
    this.topics.set(topic, { types: list, name });
    for (const at of formerTopics.keys()) this.topics.set(at, { types: list, name });
    const register = (group: string, topic: string, types: readonly string[]) => {
      // Deliveries come under the current name: a former name's messages are read as the type.
      const handles = new Set(types.flatMap(namesOf));
      this.options.router.addHandler({
        name: group,
        group,
        topics: [topic],
        types,
        maxInFlight: options.maxInFlight,
        middleware: options.middleware,
        outerMiddleware: [this.replier(), ...(options.outerMiddleware ?? [])],
        handle: async (delivery) => {
          // Inside the router's stack: a PermanentError, so dead-lettered without retries.
          if (!handles.has(delivery.envelope.type))
            throw new UnhandledCommandTypeError(delivery.envelope.type, topic, types, name);
          // Innermost, so that every attempt checks: a retry or redelivery after the deadline
          // does not run the handler either (the bus, not a transport: alike on all of them).
          const expired = this.expiry(delivery.envelope);
          if (expired) return new Refusal(expired);
          let result: unknown;
          try {
            result = await handler(delivery.envelope, delivery);
          } catch (error) {
            if (error instanceof DomainError) return new Refusal(error);
            // The handler's own check before its write (checkDeadline): this command expired.
            if (
              error instanceof CommandExpiredError &&
              error.commandId === delivery.envelope.messageId
            )
              return new Refusal(error);
            throw error;
          }
          // Thrown in the router's stack: a PermanentError, dead-lettered without retries.
          const schema = resultSchemaOf(delivery.envelope.type);
          return schema === undefined ? result : replyResult(schema, result, delivery.envelope);
        },
        ...(options.idempotent && { idempotent: true }),
      });
    };
    // Hazard: the group is named after the topic; renaming a shared topic re-consumes nothing
    // (the new topic is empty) but strands what is left in the old one.
    register(this.groupOf(list[0]!), topic, list);
    if (options.drainOwnTopics)
      for (const type of list) {
        const own = this.naming.ownCommandTopic?.(type);
        // The group each type had before it shared a topic: it goes on where it stopped.
        if (own !== undefined && own !== topic) register(`commands.${type}`, own, [type]);
      }
    for (const [at, former] of formerTopics) register(`commands.${former}`, at, list);
    return this;
  }

  /**
   * Publishes a command to its type's topic; resolves once the broker accepted it.
   * @throws RangeError when `deadlineMs` is not a positive number (nothing is sent)
   */
  async send(command: Envelope, options: SendOptions = {}): Promise<void> {
    const sent =
      options.deadlineMs === undefined ? command : withDeadline(command, options.deadlineMs);
    await this.options.publisher.publish(this.naming.command(sent.type), [sent]);
  }

  /** A CommandExpiredError when the command's deadline has passed by this bus's clock (`now`). */
  private expiry(command: Envelope): CommandExpiredError | undefined {
    const deadline = deadlineOf(command);
    if (deadline === undefined) return undefined;
    const now = this.options.now?.() ?? Date.now();
    if (now <= deadline + (this.options.clockSkewMs ?? 0)) return undefined;
    return new CommandExpiredError(
      command.messageId,
      command.type,
      command.metadata.deadline as string,
      new Date(now),
    );
  }

  /**
   * Publishes a command and resolves with its handler's result. Of a command made by
   * `MessageFactory.command` from a type that declares its result, the promise is of that type
   * (an explicit `request<R>(command)` still types a command without one); and when the
   * registry knows the type's result schema — or else the command was made from a type that
   * declares one — the reply's result (JSON) is parsed into the schema's output, once.
   * @throws CommandResultInvalidError when the reply's result does not match the result schema
   *   the requester uses for the type (the command was handled: the replying service may run
   *   another version), or that schema could not check it
   * @throws CommandResultNotKeptError when the command (its messageId) was handled once already
   *   and the deduplicator did not keep its result (over `maxResultBytes`, or no JSON)
   * @throws CommandExpiredError when its deadline passed before its handler ran
   * @throws CommandRejectedError when the handler refused it or failed for good
   * @throws CommandTimeoutError when no reply came within the timeout (`sent: false` when the
   *   command was never sent, as the replies subscription was not in place in time;
   *   `publishing: true` when the broker had not answered its publish yet — the timeout covers
   *   the publish too)
   * @throws RangeError when `deadlineMs` is not a positive number (nothing is sent)
   * @throws TypeError naming `timeoutMs` when it is not a positive number of milliseconds up to
   *   2 147 483 647 (nothing is sent)
   * @throws CommandBusClosedError when the bus (or its router) is closed before the request, or
   *   while it waits for its replies subscription (`sent: false`: nothing was sent), or
   *   while it waits for the reply (`sent: true`: the command may still be handled)
   */
  async request<Result = unknown>(
    command: CommandEnvelope<unknown, string, Result>,
    options: RequestOptions = {},
  ): Promise<Result> {
    if (this.closed) throw new CommandBusClosedError(command.messageId, command.type, false);
    // A NaN (an unset variable) or a longer wait than a timer's fired at once: the command sent,
    // the request rejected as timed out.
    checkDelayMs('CommandBus.request: options.timeoutMs', options.timeoutMs);
    // Looked up before withDeadline copies the envelope: it is the factory's object that has it.
    const made = resultSchemaMadeWith(command);
    if (options.deadlineMs !== undefined) command = withDeadline(command, options.deadlineMs);
    this.ensureRepliesSubscribed();
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const timedOut = (published: boolean) =>
      new CommandTimeoutError(
        command.messageId,
        command.type,
        timeoutMs,
        true,
        this.naming.command(command.type),
        !published,
      );
    // The reply group must exist before the command leaves, or a fast reply is missed. Waiting
    // for it counts against the timeout: a router not running yet, or a broker away at start-up,
    // ends in CommandTimeoutError with `sent: false`, not a hang.
    let subscribed: boolean;
    try {
      subscribed = await this.options.router.subscribed(REPLIES_HANDLER, { timeoutMs });
    } catch (error) {
      // The router closed (the app is shutting down, its bus closes next) before the replies
      // were subscribed: nothing can come back, nothing was sent. Its refusal was a plain
      // Error, a 500 to an HTTP client. (With the replies subscribed, a handler in flight during
      // the drain still gets its reply: the router closes them last.)
      if (this.options.router.isClosed)
        throw new CommandBusClosedError(command.messageId, command.type, false);
      throw error;
    }
    if (!subscribed)
      throw new CommandTimeoutError(command.messageId, command.type, timeoutMs, false);
    // Closed meanwhile: sent now, the command would wait out its timeout, unseen by close().
    if (this.closed) throw new CommandBusClosedError(command.messageId, command.type, false);
    const replyTo = this.naming.reply(this.options.instanceId);
    let waiter!: Waiting;
    let published = false;
    const outcome = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.forget(command.messageId, waiter);
          reject(timedOut(published));
        },
        Math.max(0, deadline - Date.now()),
      );
      waiter = { resolve, reject, timer, sent: command, ...(made && { made }) };
    });
    // Requests of one messageId (an idempotent retry while the first still waits) all get
    // the reply that comes first.
    this.waiting.set(command.messageId, [...(this.waiting.get(command.messageId) ?? []), waiter]);
    // Not awaited before the outcome: the timeout covers the publish too. Awaited, a broker that
    // never answered held the request past its timeout, and the timer's rejection, which nobody
    // had awaited yet, was an unhandled rejection (a crash, by Node's default).
    this.send({ ...command, metadata: { ...command.metadata, replyTo } }).then(
      () => (published = true),
      (error: unknown) => {
        clearTimeout(waiter.timer);
        this.forget(command.messageId, waiter);
        waiter.reject(error as Error); // nothing once the request timed out or the bus closed
      },
    );
    return outcome as Promise<Result>;
  }

  private forget(messageId: string, waiter: Waiting): void {
    const rest = (this.waiting.get(messageId) ?? []).filter((w) => w !== waiter);
    if (rest.length > 0) this.waiting.set(messageId, rest);
    else this.waiting.delete(messageId);
  }

  /**
   * Rejects every request still waiting, and any made later, at once (shutdown), with a
   * CommandBusClosedError saying whether the command was sent. Call it after `router.close()`:
   * the router keeps the replies subscription open until its other handlers drained, so that
   * a handler in flight awaiting `request()` gets its reply first.
   */
  close(): void {
    this.closed = true;
    for (const [id, waiters] of this.waiting)
      for (const waiting of waiters) {
        clearTimeout(waiting.timer);
        waiting.reject(new CommandBusClosedError(id, waiting.sent.type, true));
      }
    this.waiting.clear();
  }

  /** Subscribes this instance to its replies (lazily on the first request; call it before run() to subscribe up front). */
  ensureRepliesSubscribed(): void {
    if (this.repliesRegistered) return;
    try {
      this.options.router.addHandler({
        name: REPLIES_HANDLER,
        mode: 'fan-out',
        startFrom: 'latest',
        topics: [this.naming.reply(this.options.instanceId)],
        types: [COMMAND_REPLY],
        // Open while the router drains: a handler in flight may be awaiting a reply.
        closeLast: true,
        handle: async (delivery) => {
          const causationId = delivery.envelope.metadata.causationId;
          const waiters = causationId ? this.waiting.get(causationId) : undefined;
          if (!waiters) return; // late reply after a timeout, or for another incarnation
          this.waiting.delete(causationId!);
          const reply = delivery.envelope.data as CommandReply;
          for (const waiting of waiters) {
            clearTimeout(waiting.timer);
            if (reply.ok) this.settle(waiting, reply.result);
            else waiting.reject(rejectionOf(causationId!, reply, waiting.sent));
          }
        },
      });
    } catch (error) {
      // Not registered: the next request tries again and gets the same explanation.
      throw new Error(
        `CommandBus cannot subscribe to its replies: ${(error as Error).message}. The bus ` +
          `registers ${COMMAND_REPLY} in the SerializerRegistry it is given: pass that same ` +
          'registry instance to the transport (publisher and subscriber) too',
        { cause: error },
      );
    }
    this.repliesRegistered = true;
  }

  /**
   * Resolves a request with its result, parsed into the result schema's output when the
   * registry knows the schema, else when the command was made from a type that declares one
   * (its envelope is typed with that output) — the reply carries the JSON the handling side
   * checked.
   */
  private settle(waiting: Waiting, result: unknown): void {
    const schema = this.options.serializer.resultSchema(waiting.sent.type) ?? waiting.made;
    if (schema === undefined) return waiting.resolve(result);
    try {
      waiting.resolve(requestResult(schema, result, waiting.sent));
    } catch (error) {
      waiting.reject(error as Error);
    }
  }

  /** Outermost middleware of command handlers: publishes the final outcome to `replyTo`. */
  private replier(): Middleware {
    return (next) => async (delivery) => {
      const result = await next(delivery);
      const replyTo = delivery.envelope.metadata.replyTo;
      if (typeof replyTo !== 'string') return result;
      const data: CommandReply =
        // A repeat the deduplicator has no result for: not a success with no result.
        result instanceof ResultNotKept
          ? {
              ok: false,
              error: errorOf(
                new CommandResultNotKeptError(delivery.envelope.messageId, delivery.envelope.type),
              ),
            }
          : result instanceof DeadLettered || result instanceof Refusal
            ? {
                ok: false,
                error: {
                  ...errorOf(result.error),
                  ...(result instanceof Refusal && { refused: true }),
                },
              }
            : { ok: true, result };
      try {
        await this.options.publisher.publish(replyTo, [reply(delivery.envelope, data)]);
      } catch (error) {
        // The letter is stored: failing the delivery would have it dead-lettered again on every
        // redelivery (the handler run again each time). The reply is given up on instead — the
        // sender times out, as for any reply that cannot be published.
        if (result instanceof DeadLettered) {
          warnOfLostReply(
            replyTo,
            `the reply to ${delivery.envelope.type} ${delivery.envelope.messageId}, dead-lettered ` +
              `as letter ${result.letterId}, could not be published to ${replyTo}: ` +
              `${errorNameOf(error)}: ${(error as Error)?.message ?? String(error)}. Its sender ` +
              'times out; the letter is kept',
          );
          return result;
        }
        // A result that cannot be sent (too large, not serializable) never will be: redelivering
        // the command would run its handler again and again. The sender gets that error instead;
        // anything else (the broker is away) fails the delivery, which is tried again.
        if (
          !data.ok ||
          !(error instanceof MessageTooLargeError || error instanceof MessageValidationError)
        )
          throw error;
        const unsent = new ReplyNotSentError(delivery.envelope.messageId, error);
        await this.options.publisher.publish(replyTo, [
          reply(delivery.envelope, { ok: false, error: errorOf(unsent) }),
        ]);
      }
      return result;
    };
  }
}

/**
 * A process warning (DEAD_LETTER_WARNING) for a dead-lettered command whose reply could not be
 * published, throttled per reply topic: a broker that is away fails every one of them.
 */
const warnOfLostReply = throttledWarning({
  type: DEAD_LETTER_WARNING,
  code: 'CAUSEWAY_DEAD_LETTER_REPLY_NOT_SENT',
});

/**
 * What a handler of `types` (names mixed with message types) answers: the union of the
 * results the message types among them declare (MessageResultInput); names add nothing, as
 * their results are known at run time only; `unknown` (anything) when none declares one.
 */
type AnswerOf<Types extends MessageTypes> = MessageResultInput<MessageTypesIn<Types>>;

/**
 * The error a failed reply rejects a request with: a CommandExpiredError when the command
 * carried a deadline and expired, a CommandResultNotKeptError for a repeat whose result was not
 * kept, otherwise a CommandRejectedError naming the remote error.
 */
function rejectionOf(commandId: string, reply: CommandReply, sent: Envelope): Error {
  const name = reply.error?.name ?? 'Error';
  const message = reply.error?.message ?? 'rejected';
  const deadline = sent.metadata.deadline;
  if (name === 'CommandExpiredError' && typeof deadline === 'string')
    return new CommandExpiredError(commandId, sent.type, deadline, undefined, message);
  if (name === 'CommandResultNotKeptError')
    return new CommandResultNotKeptError(commandId, sent.type, message);
  const { code, details, status, refused } = reply.error ?? {};
  return new CommandRejectedError(commandId, name, message, {
    ...(code !== undefined && { code }),
    ...(details !== undefined && { details }),
    ...(status !== undefined && { status }),
    refused: refused === true,
  });
}

/**
 * The name and message a sender gets (a subclass that kept `name` 'Error' is named by its
 * class), and a DomainError's code, details and own client-error `status`.
 */
function errorOf(error: unknown): NonNullable<CommandReply['error']> {
  const status = error instanceof DomainError ? clientErrorStatusOf(error) : undefined;
  return {
    name: errorNameOf(error),
    message: (error as Error)?.message ?? String(error),
    ...(error instanceof DomainError && error.code !== undefined && { code: error.code }),
    ...(error instanceof DomainError && error.details !== undefined && { details: error.details }),
    ...(status !== undefined && { status }),
  };
}

/**
 * A DomainError subclass's own `status` (or `statusCode`) when it is an integer 400–499 — what
 * an HTTP edge answers instead of 422 (ProblemDetailsFilter); anything else is not sent.
 */
function clientErrorStatusOf(error: DomainError): number | undefined {
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' && Number.isInteger(code) && code >= 400 && code < 500
    ? code
    : undefined;
}
