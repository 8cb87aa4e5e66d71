import { type Envelope } from '@causeway/cqrs-core';

/**
 * The `rejected` status's reason of a command that expired before it was handled
 * (CommandExpiredError). command-api sets a move's deadline COMMAND_DEADLINE_MS after accepting
 * it (its `metadata.timestamp`), so that is the span the user is told; a deadline set some
 * other way is named as it is.
 */
export function expiryReason(command: Envelope, deadline: string): string {
  const within = Date.parse(deadline) - Date.parse(command.metadata.timestamp);
  return Number.isFinite(within) && within > 0
    ? `expired: not handled within ${within} ms of being accepted`
    : `expired: not handled by its deadline ${deadline}`;
}
