import { type CommandStatus } from '@causeway/contracts';

/**
 * The start of the reason of a command that failed for good (dead-lettered): not a refusal by
 * the domain, and a replay of its dead letter may apply it after all (CommandStatusStore).
 */
export const FAILED_REASON_PREFIX = 'failed: ';

/**
 * Where the API records the commands it accepted and the handlers record their outcome, so a
 * client can ask `GET /api/commands/{id}` what became of its command.
 *
 * Contract (proved by `describeCommandStatusStore` against every implementation):
 * - `accepted` stores the status `accepted` (with the command's `deadline`, if it has one);
 *   calling it again for the same id changes nothing (a re-accepted command never hides an
 *   outcome already recorded).
 * - `complete` records `processed` or `rejected` with its details, keeping the accepted time
 *   and deadline; the first outcome wins:
 *   a later `complete` of the same id (a redelivered command) does not overwrite it —
 *   except that `processed` replaces a failure: a `rejected` whose reason starts with
 *   FAILED_REASON_PREFIX (`failed: `, a dead-lettered command, which a replay of the dead letter
 *   may still apply).
 *   Completing an id that was never accepted stores the outcome anyway (the API may have
 *   crashed after sending the command but before recording it).
 * - `get` returns the latest status, or undefined for an unknown or expired id.
 * - Entries expire after the store's retention (a setting), never earlier; except that
 *   InMemoryCommandStatusStore forgets the oldest write beyond its `maxEntries` (default
 *   100 000).
 */
export interface CommandStatusStore {
  accepted(status: {
    commandId: string;
    type: string;
    issuerId: string;
    acceptedAt: string;
    deadline?: string;
  }): Promise<void>;
  complete(outcome: {
    commandId: string;
    type: string;
    issuerId: string;
    status: 'processed' | 'rejected';
    completedAt: string;
    reason?: string;
    version?: number;
  }): Promise<void>;
  get(commandId: string): Promise<CommandStatus | undefined>;
}
