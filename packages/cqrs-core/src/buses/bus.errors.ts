import { PermanentError } from '../router/handler.errors';

/**
 * A second handler was registered for a command or query type: each has exactly one (S0-1).
 * `registered` and `duplicate` name the handler already registered and the one refused, when
 * known (the handler class with the Nest decorators, `options.name` or the function's name).
 */
export class DuplicateHandlerError extends Error {
  readonly kind: 'command' | 'query';
  readonly registered?: string;
  readonly duplicate?: string;

  constructor(
    readonly messageType: string,
    details: { kind?: 'command' | 'query'; registered?: string; duplicate?: string } = {},
  ) {
    const kind = details.kind ?? 'command';
    super(
      `${details.duplicate ?? 'a second handler'} cannot handle ${kind} ${messageType}: ` +
        `${details.registered ?? 'another handler'} already does (a ${kind} has exactly one handler)`,
    );
    this.name = 'DuplicateHandlerError';
    this.kind = kind;
    if (details.registered) this.registered = details.registered;
    if (details.duplicate) this.duplicate = details.duplicate;
  }
}

/**
 * No reply to a command arrived in time. The command may still be handled later. A sent
 * command's message names the topic it went to and the likely causes: no handler of its type
 * running (no service consuming that topic), or a handler slower than the timeout.
 */
export class CommandTimeoutError extends Error {
  constructor(
    readonly commandId: string,
    readonly commandType: string,
    readonly timeoutMs: number,
    /**
     * false when the command was never sent: the replies subscription was not in place within
     * the timeout (the router not running, the broker away). A retry is then safe.
     */
    readonly sent = true,
    /** The topic the command was published to, when known. */
    readonly topic?: string,
    /**
     * The broker had not answered the publish when the time was up (it hangs, or is slow): the
     * command may still have been taken, and handled.
     */
    readonly publishing = false,
  ) {
    super(
      sent
        ? `no reply to ${commandType} ${commandId}${topic === undefined ? '' : ` on ${topic}`} ` +
            `within ${timeoutMs} ms: ` +
            (publishing
              ? 'the broker had not accepted the command yet (it may still be handled)'
              : `no handler of ${commandType} is running, or it is slower than the timeout`)
        : `${commandType} ${commandId} was not sent: the replies subscription was not in place ` +
            `within ${timeoutMs} ms (is router.run() called, is the broker reachable?)`,
    );
    this.name = 'CommandTimeoutError';
  }
}

/**
 * The command bus was closed (shutdown). `sent: false`: the request came after close and
 * nothing was sent (retry it elsewhere). `sent: true`: it was sent, and the bus stopped waiting
 * for its reply: the command may still be (or have been) handled — look up its outcome by
 * `commandId` before sending it again.
 */
export class CommandBusClosedError extends Error {
  constructor(
    readonly commandId: string,
    readonly commandType: string,
    readonly sent: boolean,
  ) {
    super(
      sent
        ? `command bus closed while waiting for the reply to ${commandType} ${commandId}: it ` +
            'may still be handled'
        : `command bus is closed: ${commandType} ${commandId} was not sent`,
    );
    this.name = 'CommandBusClosedError';
  }
}

/**
 * The command's handler refused it (a DomainError) or failed for good (dead-lettered);
 * `remoteName` is the error's name on the handling side, `message` its message, `code` and
 * `details` a DomainError's own (DomainErrorOptions), `status` the client-error status
 * (400–499) a DomainError subclass declared as its `status` (or `statusCode`). The error's
 * class does not cross the wire: test for it with `isRejectedWith(error, InsufficientFundsError)`.
 */
export class CommandRejectedError extends Error {
  readonly code?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** The DomainError's own HTTP client-error status, when it declared one (else undefined). */
  readonly status?: number;
  /**
   * True when the handler refused the command with a DomainError (a business rule: show it to
   * the caller); false when the handler failed and the command was dead-lettered (an internal
   * failure), or the reply came from a release that did not say.
   */
  readonly refused: boolean;

  constructor(
    readonly commandId: string,
    readonly remoteName: string,
    message: string,
    remote: {
      code?: string;
      details?: Readonly<Record<string, unknown>>;
      status?: number;
      refused?: boolean;
    } = {},
  ) {
    super(message);
    this.name = 'CommandRejectedError';
    this.refused = remote.refused === true;
    if (remote.code !== undefined) this.code = remote.code;
    if (remote.details !== undefined) this.details = remote.details;
    if (remote.status !== undefined) this.status = remote.status;
  }
}

/**
 * Whether `error` is a command's rejection by an error of class `type` on the handling side
 * (its `remoteName` is the class's name, as a DomainError subclass names itself).
 */
export function isRejectedWith(
  error: unknown,
  type: abstract new (...args: never[]) => Error,
): error is CommandRejectedError {
  return error instanceof CommandRejectedError && error.remoteName === type.name;
}

/**
 * The command's deadline (`metadata.deadline`, see `CommandBus.send`'s `deadlineMs`) had passed
 * when it reached its handler, so it was not handled and never will be. The receiving CommandBus
 * answers it like a refusal — a `Refusal` whose `error` is this: acknowledged, not retried, not
 * dead-lettered (replaying it would only expire again) — and the sender's `request` rejects
 * with it. A CommandRejectedError (`remoteName` 'CommandExpiredError'), so code that catches
 * those catches this too.
 */
export class CommandExpiredError extends CommandRejectedError {
  constructor(
    commandId: string,
    readonly commandType: string,
    /** The command's deadline, ISO 8601. */
    readonly deadline: string,
    /** When the receiving side found it expired, if known. */
    readonly expiredAt?: Date,
    /** The message of the receiving side (on the sender's side). */
    message?: string,
  ) {
    super(
      commandId,
      'CommandExpiredError',
      message ??
        `${commandType} ${commandId} expired unhandled: its deadline ${deadline} had passed` +
          (expiredAt
            ? ` ${expiredAt.getTime() - Date.parse(deadline)} ms before it reached its handler`
            : ' before it reached its handler'),
    );
    this.name = 'CommandExpiredError';
  }
}

/**
 * The handler succeeded but its result cannot be sent as a reply (too large, not serializable).
 * The sender gets this error (as a CommandRejectedError named ReplyNotSentError); the command is
 * not handled again.
 */
export class ReplyNotSentError extends Error {
  constructor(
    readonly commandId: string,
    cause: unknown,
  ) {
    super(
      `the result of command ${commandId} was handled but cannot be sent as its reply: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'ReplyNotSentError';
  }
}

/**
 * A shared command topic (TopicNamingOptions.commandTopics) already has its handler: every type
 * of a shared topic is handled by one `CommandBus.handle` call, whose one consumer group keeps
 * the order of the topic's commands per key.
 */
export class SharedTopicHandledError extends Error {
  constructor(
    readonly topic: string,
    /** The types the topic's handler was registered for. */
    readonly registeredTypes: readonly string[],
    readonly types: readonly string[],
    details: { registered?: string; duplicate?: string } = {},
  ) {
    super(
      `${details.duplicate ?? 'a second handler'} cannot handle ${types.join(', ')} on topic ${topic}: ` +
        `${details.registered ?? 'another handler'} already handles that topic (${registeredTypes.join(', ')}); ` +
        `handle all the types of a shared topic with one CommandBus.handle`,
    );
    this.name = 'SharedTopicHandledError';
  }
}

/**
 * A command came on a topic whose handler does not handle its type: a type mapped to a shared
 * topic that no handler registered with it, or a sender with another mapping. Permanent: it is
 * dead-lettered at once (and its sender's request rejected); nothing here will ever handle it.
 */
export class UnhandledCommandTypeError extends PermanentError {
  constructor(
    readonly commandType: string,
    readonly topic: string,
    readonly handledTypes: readonly string[],
    handler?: string,
  ) {
    super(
      `command type ${commandType} came on topic ${topic}, whose handler` +
        `${handler ? ` (${handler})` : ''} handles only ${handledTypes.join(', ')}`,
    );
    this.name = 'UnhandledCommandTypeError';
  }
}

/**
 * An event came on a topic its type is not published to under the bus's naming: a producer with
 * another mapping, or a message that is not an event (a command sent to an events topic).
 * Permanent: it is dead-lettered at once. (A type that the naming maps to the topic but the
 * handler does not handle is skipped instead: a shared topic carries it for other handlers.)
 */
export class UnexpectedEventTypeError extends PermanentError {
  constructor(
    readonly eventType: string,
    readonly topic: string,
    readonly handledTypes: readonly string[],
    handler?: string,
  ) {
    super(
      `a message of type ${eventType} came on topic ${topic}, where the naming publishes none of ` +
        `its kind; the handler${handler ? ` (${handler})` : ''} handles ${handledTypes.join(', ')}`,
    );
    this.name = 'UnexpectedEventTypeError';
  }
}

/**
 * A command's result does not match the result schema its type declares
 * (`messageType(…, { result })`), or could not be checked against it. `side` says who found it:
 * - 'handler': the handling CommandBus, before replying — the handler's bug (or its schema's).
 *   It checks what the requester will receive, the JSON form of the handler's value. A
 *   PermanentError, so the command is dead-lettered at once, not retried; the requester gets a
 *   CommandRejectedError with `remoteName` 'CommandResultInvalidError' and this message. What
 *   the handler did (an append, a write) is not undone.
 * - 'reply': the requesting CommandBus — the reply's result is of another shape, e.g. from a
 *   service running another version of the type. The command was handled; `request` rejects
 *   with this error rather than resolving with data of the wrong shape.
 * `reason` 'mismatch': the result is not of that shape; `field` is the first offending field's
 * path (`balance`, `items.0.sku`; '' for the result itself). 'unchecked': checking it threw —
 * an async refine or transform (result schemas are checked synchronously), a transform that
 * throws, a value without a JSON form (a BigInt, a cycle) or one JSON would change into another
 * (an Invalid Date, NaN, ±Infinity, a Map or Set: its path is in `problem`); `field` is ''. Either way the
 * handler is not run again: the check comes after it took effect — not by retry, and not for a
 * repeat of the command (its messageId) behind a deduplicator, which is answered with this
 * failure again (`afterEffect`).
 */
export class CommandResultInvalidError extends PermanentError {
  constructor(
    readonly commandId: string,
    readonly commandType: string,
    readonly field: string,
    readonly problem: string,
    readonly side: 'handler' | 'reply',
    readonly reason: 'mismatch' | 'unchecked' = 'mismatch',
  ) {
    super(
      `the ${side === 'handler' ? "handler's" : "reply's"} result of ${commandType} ${commandId} ` +
        (reason === 'unchecked'
          ? `could not be checked against the result ${commandType} declares: ${problem}`
          : `does not match the result ${commandType} declares: ` +
            `${field === '' ? 'the result' : field}: ${problem}`) +
        (side === 'handler'
          ? ' (the command is dead-lettered, not retried; what its handler did is not undone)'
          : reason === 'unchecked'
            ? ' (the command was handled; its result schema here cannot check a reply)'
            : ' (the command was handled; the replying service may run another version of the type)'),
    );
    this.name = 'CommandResultInvalidError';
    this.afterEffect = side === 'handler';
  }

  /**
   * True on the handling side: thrown after the handler took effect, so a deduplicator keeps
   * this failure as the command's outcome (a repeat gets it again; the handler is not run again).
   */
  readonly afterEffect: boolean;
}

/**
 * A request repeated a command (its messageId) that a deduplicating handler had handled once
 * already, and the first handling's result was not kept — larger than the deduplicator's
 * `maxResultBytes` (default 64 KiB), or without a JSON form — so the repeat has no result to
 * answer with. The command was handled (once): read its outcome from what it changed. Sent by
 * the handling CommandBus when the deduplicator answers a duplicate with `ResultNotKept`; a
 * CommandRejectedError (`remoteName` 'CommandResultNotKeptError', `refused` false), so code that
 * catches those catches this too. A repeat of a command whose handler answered nothing
 * (`undefined`) still resolves with `undefined`.
 */
export class CommandResultNotKeptError extends CommandRejectedError {
  constructor(
    commandId: string,
    readonly commandType: string,
    /** The message of the handling side (on the requester's side). */
    message?: string,
  ) {
    super(
      commandId,
      'CommandResultNotKeptError',
      message ??
        `${commandType} ${commandId} was handled once already and its result was not kept ` +
          "(larger than the deduplicator's maxResultBytes, or without a JSON form): this " +
          'repeat has no result to answer with; the command is not handled again',
    );
    this.name = 'CommandResultNotKeptError';
  }
}
