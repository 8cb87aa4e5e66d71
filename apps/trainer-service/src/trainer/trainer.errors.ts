import { PermanentError } from '@causeway/cqrs-core';

/** A move the trainer cannot make (e.g. starting without a direction). Never retried. */
export class InvalidMoveError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMoveError';
  }
}

/** A command for a trainer that has no events yet (only a move creates a trainer). Never retried. */
export class UnknownTrainerError extends PermanentError {
  constructor(readonly trainerId: string) {
    super(`unknown trainer "${trainerId}"`);
    this.name = 'UnknownTrainerError';
  }
}
