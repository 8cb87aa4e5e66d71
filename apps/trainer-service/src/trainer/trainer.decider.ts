import { type Decider, type DomainCommand, type DomainEvent } from '@causeway/cqrs-core';
import {
  type ChangeGroupCommand,
  type MoveTrainerCommand,
  type TrainerJoinedGroupEvent,
  type TrainerLeftGroupEvent,
  type TrainerMovedEvent,
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
  TRAINER_MOVED_EVENT,
} from '@causeway/contracts';
import {
  GroupFullError,
  InvalidMoveError,
  SupersededMoveError,
  TooManyGroupsError,
  UnknownTrainerError,
} from './trainer.errors';

export {
  GroupFullError,
  InvalidMoveError,
  SupersededMoveError,
  TooManyGroupsError,
  UnknownTrainerError,
} from './trainer.errors';

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
  /** False until the trainer's first event: only a move creates a trainer. */
  exists: boolean;
  position: Vector;
  movement: Movement;
  /** The groups the trainer is in, sorted. */
  groups: readonly string[];
  /** Epoch ms of the trainer's latest move (0: none): a later-applied move is never earlier. */
  movedAt?: number;
}

/** `now` is the time the command was accepted (server clock, epoch ms): never read a clock in decide. */
export type MoveTrainer = DomainCommand<'MoveTrainer', MoveTrainerCommand, { now: number }>;
/**
 * `members`: how many members the group has, as counted before deciding (the GroupMembers read
 * model); given to a join when groups are bounded (`maxMembers`).
 */
export type ChangeGroup = DomainCommand<
  'ChangeGroup',
  ChangeGroupCommand,
  { now: number; members?: number }
>;
export type TrainerCommand = MoveTrainer | ChangeGroup;

export type TrainerMoved = DomainEvent<typeof TRAINER_MOVED_EVENT, TrainerMovedEvent>;
export type TrainerJoinedGroup = DomainEvent<
  typeof TRAINER_JOINED_GROUP_EVENT,
  TrainerJoinedGroupEvent
>;
export type TrainerLeftGroup = DomainEvent<typeof TRAINER_LEFT_GROUP_EVENT, TrainerLeftGroupEvent>;
export type TrainerEvent = TrainerMoved | TrainerJoinedGroup | TrainerLeftGroup;

/**
 * The types of TrainerEvent: what the trainer appends, and all its outbox publishes. An event of
 * another type in its store (another context's, before it had a log of its own) is not its to
 * publish.
 */
export const TRAINER_EVENT_TYPES: readonly TrainerEvent['type'][] = [
  TRAINER_MOVED_EVENT,
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
];

const STILL: Movement = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };

/** Where the trainer is at `now`, given where it was when its movement started. */
export function positionAt(
  state: Pick<TrainerState, 'position' | 'movement'>,
  now: number,
): Vector {
  const { movement, position } = state;
  if (!movement.isMoving) return position;
  const seconds = Math.max(0, now - movement.startedAt) / 1000;
  return {
    x: position.x + movement.direction.x * movement.speed * seconds,
    y: position.y + movement.direction.y * movement.speed * seconds,
  };
}

/**
 * The unit vector of (x, y), for any finite non-zero input: scaled to its largest component
 * first, so that the length neither overflows (1e308) nor underflows (5e-324) on the way.
 */
function unit(x: number, y: number): Vector {
  const scale = Math.max(Math.abs(x), Math.abs(y));
  const [sx, sy] = [x / scale, y / scale];
  const length = Math.hypot(sx, sy);
  return { x: sx / length, y: sy / length };
}

/**
 * Moves arrive in an order that may differ from the order their acceptance times were stamped
 * in (two command-api instances; a keyed retry of an unconfirmed request keeps its first time).
 * A start stamped before the latest move applied is refused (SupersededMoveError), not applied
 * over it: a start released since must not walk the trainer off for good. An equal stamp
 * applies, in arrival order. A stale stop still stops, at the latest move's time (see move): a
 * trainer must always be stoppable, also after the clock that stamps commands stepped back.
 */
function supersede(command: MoveTrainer, state: TrainerState): void {
  if (command.data.action === 'stop') return;
  const latest = state.movedAt ?? 0;
  if (command.metadata!.now < latest) throw new SupersededMoveError(command.metadata!.now, latest);
}

function move(command: MoveTrainer, state: TrainerState, speed: number): TrainerMoved {
  // A stop stamped before the latest move (a late one, or the stop a group change decides with
  // the change's time; see supersede) happens at that move's time: no span is walked twice.
  const now = Math.max(command.metadata!.now, state.movedAt ?? 0, state.movement.startedAt);
  const { action, directionX, directionY, trainerId } = command.data;
  const position = positionAt(state, now);
  let movement: Movement;
  if (action === 'start') {
    if (directionX === 0 && directionY === 0)
      throw new InvalidMoveError('cannot start moving without a direction');
    movement = { isMoving: true, direction: unit(directionX, directionY), speed, startedAt: now };
  } else {
    movement = STILL;
  }
  // Its audience goes with it: notified later (a backlog after a crash), a move made in a
  // private group must not reach those outside it because the trainer has left it since.
  const groups = [...state.groups];
  return {
    type: TRAINER_MOVED_EVENT,
    data: { trainerId, position, movement, timestamp: now, groups },
  };
}

/** The most groups a trainer may be in, unless the decider is given another bound. */
export const DEFAULT_MAX_GROUPS = 16;

function changeGroup(
  command: ChangeGroup,
  state: TrainerState,
  options: { speed: number; maxGroups: number; maxMembers?: number },
): TrainerEvent[] {
  const { speed, maxGroups, maxMembers } = options;
  const { trainerId, groupId, action } = command.data;
  if (!state.exists) throw new UnknownTrainerError(trainerId);
  const member = state.groups.includes(groupId);
  // Joining a group twice or leaving one the trainer is not in changes nothing.
  if (member === (action === 'join')) return [];
  // Every move carries the trainer's groups and reaches all their members: bounded.
  if (action === 'join' && state.groups.length >= maxGroups)
    throw new TooManyGroupsError(trainerId, maxGroups);
  // Every move of a member is addressed to all the members of its groups: bounded too.
  const members = command.metadata?.members;
  if (
    action === 'join' &&
    maxMembers !== undefined &&
    members !== undefined &&
    members >= maxMembers
  )
    throw new GroupFullError(groupId, maxMembers);
  const data = { trainerId, groupId, timestamp: command.metadata!.now };
  const change: TrainerEvent =
    action === 'join'
      ? { type: TRAINER_JOINED_GROUP_EVENT, data }
      : { type: TRAINER_LEFT_GROUP_EVENT, data };
  if (!state.movement.isMoving) return [change];
  // A change that takes viewers away (public → its first group; leaving one of several groups)
  // stops a moving trainer first, seen by all who saw it: else they would be left with a
  // movement from which to work out where it goes unseen.
  const narrows = action === 'join' ? state.groups.length === 0 : state.groups.length > 1;
  if (narrows) {
    const stop: MoveTrainer = {
      type: 'MoveTrainer',
      data: { trainerId, directionX: 0, directionY: 0, action: 'stop', timestamp: data.timestamp },
      metadata: command.metadata,
    };
    return [move(stop, state, speed), change];
  }
  // One that adds viewers (leaving its last group; joining one more) starts the walk again from
  // where the trainer is, seen by all who see it after the change: else the newcomers would be
  // shown where it stood and when it set off while they could not see it, and so its path.
  const { direction } = state.movement;
  const restart: MoveTrainer = {
    type: 'MoveTrainer',
    data: {
      trainerId,
      directionX: direction.x,
      directionY: direction.y,
      action: 'start',
      timestamp: data.timestamp,
    },
    metadata: command.metadata,
  };
  const groups =
    action === 'join'
      ? [...state.groups, groupId].sort()
      : state.groups.filter((id) => id !== groupId);
  // Before the change, as a stop is: the change stays the command's last event.
  return [move(restart, { ...state, groups }, state.movement.speed), change];
}

/**
 * The trainer write model (S0-4): on each move it first advances the position by the movement
 * so far, then starts (in the normalized direction, at `speed`) or stops, and records one
 * TrainerMovedEvent with the resulting position and movement. A trainer is created by its first
 * move, at the origin. It joins and leaves groups (a party, a room): a group change of a trainer
 * that never moved is refused (UnknownTrainerError), a join beyond `maxGroups` groups
 * (default DEFAULT_MAX_GROUPS) too (TooManyGroupsError), and, given `maxMembers`, a join of a
 * group whose counted `members` (the command's metadata) reach it (GroupFullError); a change
 * that changes nothing decides no event.
 */
export function trainerDecider(options: {
  speed: number;
  maxGroups?: number;
  /** The most members a group may have; unset, groups are not bounded. */
  maxMembers?: number;
}): Decider<TrainerCommand, TrainerEvent, TrainerState> {
  const maxGroups = options.maxGroups ?? DEFAULT_MAX_GROUPS;
  return {
    initialState: () => ({ exists: false, position: { x: 0, y: 0 }, movement: STILL, groups: [] }),
    decide(command, state) {
      if (command.type === 'ChangeGroup')
        return changeGroup(command, state, {
          speed: options.speed,
          maxGroups,
          maxMembers: options.maxMembers,
        });
      supersede(command, state);
      return move(command, state, options.speed);
    },
    evolve(state, event) {
      switch (event.type) {
        case TRAINER_MOVED_EVENT:
          return {
            ...state,
            exists: true,
            position: event.data.position,
            movement: event.data.movement,
            movedAt: event.data.timestamp,
          };
        case TRAINER_JOINED_GROUP_EVENT:
          return {
            ...state,
            exists: true,
            groups: [...new Set([...state.groups, event.data.groupId])].sort(),
          };
        case TRAINER_LEFT_GROUP_EVENT:
          return {
            ...state,
            exists: true,
            groups: state.groups.filter((groupId) => groupId !== event.data.groupId),
          };
        default:
          // History may hold event types this version does not know: they change nothing.
          return state;
      }
    },
  };
}
