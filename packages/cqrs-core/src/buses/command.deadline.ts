import { shownValue } from '../config/shown-value';
import { type Envelope } from '../messages/envelope';
import { PermanentError } from '../router/handler.errors';
import { CommandExpiredError } from './bus.errors';

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
        `milliseconds, got ${shownValue(deadlineMs)}`,
    );
  const created = Date.parse(command.metadata.timestamp);
  const at = (Number.isFinite(created) ? created : now) + deadlineMs;
  const own = deadlineOf(command);
  if (own !== undefined && own <= at) return command;
  return { ...command, metadata: { ...command.metadata, deadline: new Date(at).toISOString() } };
}

/**
 * Throws CommandExpiredError when `command`'s deadline has passed at `now` (by more than
 * `clockSkewMs`, as the CommandBus allows). For a handler to call right before its irreversible
 * write (an append): the bus checks the deadline before it runs the handler, but a process
 * frozen since (a GC pause, a stalled VM, SIGSTOP) can wake after the deadline, when another
 * instance that took the command over has answered it expired. Thrown from a handler, the error
 * is answered as the bus's own check is: a Refusal, acknowledged, neither retried nor
 * dead-lettered. Residual: a freeze between this check and the write itself. A command without
 * a deadline passes.
 * @throws CommandExpiredError when the deadline has passed
 * @throws InvalidCommandDeadlineError when `metadata.deadline` is not an ISO-8601 time
 */
export function checkDeadline(command: Envelope, now = Date.now(), clockSkewMs = 0): void {
  const deadline = deadlineOf(command);
  if (deadline === undefined || now <= deadline + clockSkewMs) return;
  throw new CommandExpiredError(
    command.messageId,
    command.type,
    command.metadata.deadline as string,
    new Date(now),
    `${command.type} ${command.messageId} expired while it was handled: its deadline ` +
      `${command.metadata.deadline as string} had passed ${now - deadline} ms before its ` +
      'effects were written, so none were',
  );
}

/**
 * Checks a clock-skew allowance, when given: a non-negative finite number of milliseconds. NaN
 * would make every deadline count as passed (`now <= deadline + NaN` is false): every command
 * carrying one refused as expired.
 * @throws TypeError when it is not a number, RangeError when negative or not finite; both name
 *   the option and the value given
 */
export function checkClockSkewMs(name: string, value: unknown): void {
  if (value === undefined) return;
  const expected = 'a non-negative number of milliseconds';
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be ${expected}, got ${shownValue(value)}`);
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`${name} must be ${expected}, got ${value}`);
}
