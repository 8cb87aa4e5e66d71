import { z } from 'zod';

/**
 * The longest user id: a token's `sub`, and a trainer's id (a trainer's id is its owner's user
 * id). One limit for both, so that a user the tokens accept can always command their trainer.
 */
export const MAX_USER_ID_LENGTH = 128;

/** A trainer's id, as commands carry it. */
export const TrainerId = z.string().min(1, 'must not be empty').max(MAX_USER_ID_LENGTH);

/** S0-4: start or stop a trainer's movement in a direction. */
export const MoveTrainerCommand = z.object({
  trainerId: TrainerId,
  directionX: z.number().finite('must be a finite number'),
  directionY: z.number().finite('must be a finite number'),
  action: z.enum(['start', 'stop'], { message: 'must be "start" or "stop"' }),
  /** Client time of the key press, epoch milliseconds. */
  timestamp: z.number().int().nonnegative(),
});
export type MoveTrainerCommand = z.infer<typeof MoveTrainerCommand>;
export const MOVE_TRAINER_COMMAND = 'MoveTrainerCommand';
