/** A second handler was registered for a command type: commands have exactly one (S0-1). */
export class DuplicateHandlerError extends Error {
  constructor(readonly messageType: string) {
    super(`a handler for ${messageType} is already registered; commands have exactly one handler`);
    this.name = 'DuplicateHandlerError';
  }
}

/** No reply to a command arrived in time. The command may still be handled later. */
export class CommandTimeoutError extends Error {
  constructor(
    readonly commandId: string,
    readonly commandType: string,
    readonly timeoutMs: number,
  ) {
    super(`no reply to ${commandType} ${commandId} within ${timeoutMs} ms`);
    this.name = 'CommandTimeoutError';
  }
}

/** The command's handler failed for good; `remoteName` is the error's name on the handling side. */
export class CommandRejectedError extends Error {
  constructor(
    readonly commandId: string,
    readonly remoteName: string,
    message: string,
  ) {
    super(message);
    this.name = 'CommandRejectedError';
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
