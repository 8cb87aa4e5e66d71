import { z } from 'zod';

/**
 * What became of a command the API accepted: `accepted` until its handler finished, then
 * `processed` (with the stream version it produced) or `rejected` (with the reason).
 */
export const CommandState = z.enum(['accepted', 'processed', 'rejected']);
export type CommandState = z.infer<typeof CommandState>;

export const CommandStatus = z.object({
  commandId: z.string().uuid(),
  /** The command type, e.g. MoveTrainerCommand. */
  type: z.string(),
  /** The user who sent it (JWT `sub`): only they may read the status. */
  issuerId: z.string(),
  status: CommandState,
  acceptedAt: z.string(),
  /**
   * When a command that carries a deadline (a move: COMMAND_DEADLINE_MS after `acceptedAt`)
   * stops being applied. Still `accepted` after it: it was not applied and never will be; it
   * ends `rejected` (expired) once its handler gets to it.
   */
  deadline: z.string().optional(),
  completedAt: z.string().optional(),
  /** Why it was rejected (rejected only). */
  reason: z.string().optional(),
  /** The aggregate's version after the command (processed only). */
  version: z.number().int().optional(),
});
export type CommandStatus = z.infer<typeof CommandStatus>;
