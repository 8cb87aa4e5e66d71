import { z } from 'zod';

/** S0-4: start or stop a trainer's movement in a direction. */
export const MoveTrainerCommand = z.object({
  trainerId: z.string().min(1, 'must not be empty').max(128),
  directionX: z.number().finite('must be a finite number'),
  directionY: z.number().finite('must be a finite number'),
  action: z.enum(['start', 'stop'], { message: 'must be "start" or "stop"' }),
  /** Client time of the key press, epoch milliseconds. */
  timestamp: z.number().int().nonnegative(),
});
export type MoveTrainerCommand = z.infer<typeof MoveTrainerCommand>;
export const MOVE_TRAINER_COMMAND = 'MoveTrainerCommand';
