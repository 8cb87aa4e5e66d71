import { z } from 'zod';

/**
 * The longest user id: a token's `sub`, and a trainer's id (a trainer's id is its owner's user
 * id). One limit for both, so that a user the tokens accept can always command their trainer.
 */
export const MAX_USER_ID_LENGTH = 128;

/** A UTF-16 surrogate not in a pair: Redis and MongoDB store it as U+FFFD (UTF-8). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether `text` is well-formed Unicode (String.prototype.isWellFormed, ES2024): no lone
 * surrogate. Ids must be: stored as UTF-8 (Redis keys, MongoDB), `x\uD800`, `x\uDC00` and
 * `x\uFFFD` would become one id, and `encodeURIComponent` throws on them.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Whether `text` holds no NUL (U+0000). Ids must not: every event store refuses one in a stream
 * id (checkStreamId), so a user, trainer or task whose id has one could never be stored.
 */
export function hasNoNul(text: string): boolean {
  return !text.includes('\u0000');
}

/** A trainer's id, as commands carry it. */
export const TrainerId = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_USER_ID_LENGTH)
  .refine(hasNoNul, 'must not contain a NUL character')
  .refine(isWellFormedText, 'must be well-formed Unicode (a lone surrogate is not)');

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
