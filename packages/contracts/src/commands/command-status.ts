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
  completedAt: z.string().optional(),
  /** Why it was rejected (rejected only). */
  reason: z.string().optional(),
  /** The aggregate's version after the command (processed only). */
  version: z.number().int().optional(),
});
export type CommandStatus = z.infer<typeof CommandStatus>;
