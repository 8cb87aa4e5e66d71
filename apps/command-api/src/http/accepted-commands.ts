import { AsyncLocalStorage } from 'node:async_hooks';

/** What a request sent: its commands' ids, and the user who sent them. */
export interface AcceptedCommands {
  commandIds: string[];
  userId?: string;
}

const lists = new AsyncLocalStorage<AcceptedCommands>();

/** Runs `run` noting, in `accepted`, the commands it sends (`noteAcceptedCommand`). */
export function collectAcceptedCommands<T>(accepted: AcceptedCommands, run: () => T): T {
  return lists.run(accepted, run);
}

/**
 * Notes a command sent for the current request, by `userId`. False outside
 * `collectAcceptedCommands` (no access line will name it: log it yourself).
 */
export function noteAcceptedCommand(commandId: string, userId: string): boolean {
  const accepted = lists.getStore();
  if (!accepted) return false;
  accepted.commandIds.push(commandId);
  accepted.userId = userId;
  return true;
}
