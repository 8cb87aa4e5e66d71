import { ChangeGroupCommand, MoveTrainerCommand } from '@causeway/contracts';
import { z } from 'zod';

const timestamp = MoveTrainerCommand.shape.timestamp
  .optional()
  .describe('Client time of the key press, epoch milliseconds; default: when the API accepted it');

/**
 * Checked by CommandService.move (the pair, not one field), said here for /docs-json: the
 * trainer refuses a start without a direction, so the edge does, and the document tells clients.
 */
const noZeroStart =
  'with action "start", directionX and directionY must not both be 0 (a 422 `invalid-fields` / -32602 naming directionX)';

/** What a client sends to move a trainer (REST body): the command without trainerId. */
export const MoveBody = z.strictObject({
  directionX: MoveTrainerCommand.shape.directionX.describe(
    `Horizontal component of the direction (any finite number; only its direction counts); ${noZeroStart}`,
  ),
  directionY: MoveTrainerCommand.shape.directionY.describe(
    `Vertical component of the direction (any finite number; only its direction counts); ${noZeroStart}`,
  ),
  action: MoveTrainerCommand.shape.action,
  timestamp,
});
export type MoveBody = z.infer<typeof MoveBody>;

/** Params of JSON-RPC `trainer.move`. */
export const MoveParams = MoveBody.extend({ trainerId: MoveTrainerCommand.shape.trainerId });
export type MoveParams = z.infer<typeof MoveParams>;

/** Params of `POST /trainer.Move` (the seed's path): the trainer defaults to the caller's own. */
export const SeedMoveParams = MoveBody.extend({
  trainerId: MoveTrainerCommand.shape.trainerId.optional(),
});

/** Params of JSON-RPC `group.join` / `group.leave`; also the REST path parameters. */
export const GroupParams = z.strictObject({
  trainerId: ChangeGroupCommand.shape.trainerId,
  groupId: ChangeGroupCommand.shape.groupId,
  timestamp,
});
export type GroupParams = z.infer<typeof GroupParams>;

/** Params of JSON-RPC `command.status`. */
export const StatusParams = z.strictObject({ commandId: z.uuid('must be a UUID') });

/** The answer to every accepted command. */
export const Accepted = z.object({
  status: z.literal('accepted'),
  commandId: z.uuid(),
  /** When the API accepted it, ISO-8601. */
  timestamp: z.string(),
});
export type Accepted = z.infer<typeof Accepted>;
