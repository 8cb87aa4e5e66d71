import { PermanentError } from '@causeway/cqrs-core';

/** A move the trainer cannot make (e.g. starting without a direction). Never retried. */
export class InvalidMoveError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMoveError';
  }
}

/**
 * A start accepted before the trainer's latest applied move, arriving after it (two command-api
 * instances; a keyed retry of an unconfirmed request keeps its first acceptance time): the later
 * move already decided where the trainer goes. Never retried.
 */
export class SupersededMoveError extends InvalidMoveError {
  constructor(acceptedAt: number, latest: number) {
    super(
      `superseded: accepted at ${new Date(acceptedAt).toISOString()}, before the move accepted at ${new Date(latest).toISOString()} that was applied first`,
    );
    this.name = 'SupersededMoveError';
  }
}

/**
 * A command for a trainer that has no events yet (only a move creates a trainer). Never retried.
 * Its message is the rejection's reason its user reads: it says why and what to do, as the other
 * rejections do (the prefix `unknown trainer` stays, which operators look for).
 */
export class UnknownTrainerError extends PermanentError {
  constructor(readonly trainerId: string) {
    super(
      `unknown trainer "${trainerId}": it has never moved, and only a trainer that moved once ` +
        `can join or leave a group (move it first)`,
    );
    this.name = 'UnknownTrainerError';
  }
}

/** A join of a trainer already in as many groups as it may be in (TRAINER_MAX_GROUPS). Never retried. */
export class TooManyGroupsError extends PermanentError {
  constructor(
    readonly trainerId: string,
    readonly maxGroups: number,
  ) {
    super(
      `trainer "${trainerId}" is in ${maxGroups} groups, the most a trainer may be in: leave one first`,
    );
    this.name = 'TooManyGroupsError';
  }
}

/**
 * A join of a group that has as many members as a group may have (GROUP_MAX_MEMBERS), as the
 * GroupMembers read model counted them. Never retried.
 */
export class GroupFullError extends PermanentError {
  constructor(
    readonly groupId: string,
    readonly maxMembers: number,
  ) {
    super(
      `group "${groupId}" has ${maxMembers} members, the most a group may have: join when one has left`,
    );
    this.name = 'GroupFullError';
  }
}
