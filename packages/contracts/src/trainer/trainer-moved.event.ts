import { z } from 'zod';

const Vector = z.object({ x: z.number().finite(), y: z.number().finite() });

/** S0-4: the trainer's position after advancing, and its movement from now on. */
export const TrainerMovedEvent = z.object({
  trainerId: z.string().min(1),
  position: Vector,
  movement: z.object({
    isMoving: z.boolean(),
    direction: Vector,
    /** Units per second. */
    speed: z.number().nonnegative(),
    /** Epoch milliseconds when the current movement started; 0 when not moving. */
    startedAt: z.number().int().nonnegative(),
  }),
  timestamp: z.number().int().nonnegative(),
  /**
   * The groups the trainer was in when it moved, sorted: who may see this move (none: everyone).
   * Absent on events stored before it was added; their audience is read from GroupMembers.
   */
  groups: z.array(z.string().min(1)).optional(),
});
export type TrainerMovedEvent = z.infer<typeof TrainerMovedEvent>;
export const TRAINER_MOVED_EVENT = 'TrainerMovedEvent';
