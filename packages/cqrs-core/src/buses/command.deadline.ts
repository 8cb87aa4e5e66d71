import { type Envelope } from '../messages/envelope';
import { PermanentError } from '../router/handler.errors';

/**
 * A command's `metadata.deadline` is not an ISO-8601 time. Permanent: the command is
 * dead-lettered at once, as nobody can tell whether it may still be handled.
 */
export class InvalidCommandDeadlineError extends PermanentError {
  constructor(
    readonly commandId: string,
    readonly commandType: string,
    readonly deadline: unknown,
  ) {
    super(
      `${commandType} ${commandId} has metadata.deadline ${JSON.stringify(deadline)}, ` +
        'which is not an ISO-8601 time (e.g. 2026-11-22T10:00:00.000Z)',
    );
    this.name = 'InvalidCommandDeadlineError';
  }
}

/**
 * The command's deadline in epoch milliseconds; undefined when it has none.
 * @throws InvalidCommandDeadlineError when `metadata.deadline` is there but not an ISO-8601 time
 */
export function deadlineOf(command: Envelope): number | undefined {
  const deadline = command.metadata.deadline;
  if (deadline === undefined) return undefined;
  const at = typeof deadline === 'string' ? Date.parse(deadline) : NaN;
  if (!Number.isFinite(at))
    throw new InvalidCommandDeadlineError(command.messageId, command.type, deadline);
  return at;
}

/**
 * The command with a deadline `deadlineMs` after its creation (`metadata.timestamp`; the time of
 * this call when that is not a time), so that "within N ms of being accepted" means the same on
 * every retry of a send. A deadline the command already carries is kept when it is earlier.
 * @throws RangeError when `deadlineMs` is not a positive finite number
 * @throws InvalidCommandDeadlineError when the command's own deadline is not an ISO-8601 time
 */
export function withDeadline(command: Envelope, deadlineMs: number, now = Date.now()): Envelope {
  if (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs) || deadlineMs <= 0)
    throw new RangeError(
      `deadlineMs of ${command.type} ${command.messageId} must be a positive number of ` +
        `milliseconds, got ${String(deadlineMs)}`,
    );
  const created = Date.parse(command.metadata.timestamp);
  const at = (Number.isFinite(created) ? created : now) + deadlineMs;
  const own = deadlineOf(command);
  if (own !== undefined && own <= at) return command;
  return { ...command, metadata: { ...command.metadata, deadline: new Date(at).toISOString() } };
}
