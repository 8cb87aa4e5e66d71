import {
  type Decider,
  type DomainCommand,
  type DomainEvent,
  PermanentError,
} from '@causeway/cqrs-core';
import {
  type MoveTrainerCommand,
  type TrainerMovedEvent,
  TRAINER_MOVED_EVENT,
} from '@causeway/contracts';

export interface Vector {
  x: number;
  y: number;
}

export interface Movement {
  isMoving: boolean;
  direction: Vector;
  /** Units per second. */
  speed: number;
  /** Epoch ms when the current movement started; 0 when not moving. */
  startedAt: number;
}

export interface TrainerState {
  position: Vector;
  movement: Movement;
}

/** `now` is the time the command was accepted (server clock, epoch ms): never read a clock in decide. */
export type MoveTrainer = DomainCommand<'MoveTrainer', MoveTrainerCommand, { now: number }>;
export type TrainerMoved = DomainEvent<typeof TRAINER_MOVED_EVENT, TrainerMovedEvent>;

/** A move the trainer cannot make (e.g. starting without a direction). Never retried. */
export class InvalidMoveError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMoveError';
  }
}

const STILL: Movement = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };

/** Where the trainer is at `now`, given where it was when its movement started. */
export function positionAt(state: TrainerState, now: number): Vector {
  const { movement, position } = state;
  if (!movement.isMoving) return position;
  const seconds = Math.max(0, now - movement.startedAt) / 1000;
  return {
    x: position.x + movement.direction.x * movement.speed * seconds,
    y: position.y + movement.direction.y * movement.speed * seconds,
  };
}

function unit(x: number, y: number): Vector {
  const length = Math.hypot(x, y);
  return { x: x / length, y: y / length };
}

/**
 * The trainer write model (S0-4): on each move it first advances the position by the movement
 * so far, then starts (in the normalized direction, at `speed`) or stops, and records one
 * TrainerMovedEvent with the resulting position and movement. A trainer is created by its first
 * move, at the origin.
 */
export function trainerDecider(options: {
  speed: number;
}): Decider<MoveTrainer, TrainerMoved, TrainerState> {
  return {
    initialState: () => ({ position: { x: 0, y: 0 }, movement: STILL }),
    decide(command, state) {
      const { now } = command.metadata!;
      const { action, directionX, directionY, trainerId } = command.data;
      const position = positionAt(state, now);
      let movement: Movement;
      if (action === 'start') {
        if (directionX === 0 && directionY === 0)
          throw new InvalidMoveError('cannot start moving without a direction');
        movement = {
          isMoving: true,
          direction: unit(directionX, directionY),
          speed: options.speed,
          startedAt: now,
        };
      } else {
        movement = STILL;
      }
      return { type: TRAINER_MOVED_EVENT, data: { trainerId, position, movement, timestamp: now } };
    },
    evolve: (_state, event) => ({ position: event.data.position, movement: event.data.movement }),
  };
}
