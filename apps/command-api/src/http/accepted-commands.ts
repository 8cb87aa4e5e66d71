import { AsyncLocalStorage } from 'node:async_hooks';

const lists = new AsyncLocalStorage<string[]>();

/** Runs `run` noting, in `accepted`, the ids of the commands it sends (`noteAcceptedCommand`). */
export function collectAcceptedCommands<T>(accepted: string[], run: () => T): T {
  return lists.run(accepted, run);
}

/** Notes a command sent for the current request (no-op outside `collectAcceptedCommands`). */
export function noteAcceptedCommand(commandId: string): void {
  lists.getStore()?.push(commandId);
}
