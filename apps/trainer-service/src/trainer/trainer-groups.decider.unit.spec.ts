import { DeciderSpecification } from '@causeway/cqrs-core/testing';
import {
  type ChangeGroup,
  type TrainerEvent,
  DEFAULT_MAX_GROUPS,
  GroupFullError,
  TooManyGroupsError,
  trainerDecider,
  UnknownTrainerError,
} from './trainer.decider';

const T0 = 1_800_000_000_000;
const decider = trainerDecider({ speed: 100 });
const spec = DeciderSpecification.for(decider);

const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
const created: TrainerEvent = {
  type: 'TrainerMovedEvent',
  data: { trainerId: 'ash', position: { x: 3, y: 4 }, movement: still, timestamp: T0 },
};
const change = (action: 'join' | 'leave', groupId: string, now = T0 + 10): ChangeGroup => ({
  type: 'ChangeGroup',
  data: { trainerId: 'ash', groupId, action, timestamp: now - 3 },
  metadata: { now },
});
const joined = (groupId: string, now = T0 + 10): TrainerEvent => ({
  type: 'TrainerJoinedGroupEvent',
  data: { trainerId: 'ash', groupId, timestamp: now },
});
const left = (groupId: string, now = T0 + 10): TrainerEvent => ({
  type: 'TrainerLeftGroupEvent',
  data: { trainerId: 'ash', groupId, timestamp: now },
});

describe('trainer decider: groups', () => {
  it('joins a group at the time the command was accepted', () => {
    spec.given([created]).when(change('join', 'party')).then(joined('party'));
  });

  it('keeps the groups it is in, sorted, and leaves one of them', () => {
    spec
      .given([created, joined('party'), joined('gym')])
      .when(change('leave', 'party'))
      .thenState({
        exists: true,
        position: { x: 3, y: 4 },
        movement: still,
        groups: ['gym'],
        movedAt: T0,
      });
    spec
      .given([created, joined('party'), joined('gym')])
      .when(change('join', 'arena'))
      .thenState({
        exists: true,
        position: { x: 3, y: 4 },
        movement: still,
        groups: ['arena', 'gym', 'party'],
        movedAt: T0,
      });
  });

  it('decides nothing when joining a group it is in or leaving one it is not in', () => {
    spec
      .given([created, joined('party')])
      .when(change('join', 'party'))
      .then([]);
    spec.given([created]).when(change('leave', 'party')).then([]);
    spec
      .given([created, joined('party'), left('party')])
      .when(change('leave', 'party'))
      .then([]);
  });

  it('rejoins a group it left', () => {
    spec
      .given([created, joined('party'), left('party')])
      .when(change('join', 'party'))
      .then(joined('party'));
  });

  it('refuses a group change of a trainer that never moved', () => {
    spec
      .given([])
      .when(change('join', 'party'))
      .thenThrows(
        UnknownTrainerError,
        (error) =>
          error.message ===
          'unknown trainer "ash": it has never moved, and only a trainer that moved once can ' +
            'join or leave a group (move it first)',
      );
  });

  it('names with each move who may see it: the groups the trainer is in then', () => {
    // Notified later (a backlog), the move still goes to these groups only, left or not since.
    spec
      .given([created, joined('party'), joined('gym'), left('party')])
      .when({
        type: 'MoveTrainer',
        data: { trainerId: 'ash', directionX: 0, directionY: 0, action: 'stop', timestamp: T0 },
        metadata: { now: T0 + 20 },
      })
      .then({
        type: 'TrainerMovedEvent',
        data: {
          trainerId: 'ash',
          position: { x: 3, y: 4 },
          movement: still,
          timestamp: T0 + 20,
          groups: ['gym'],
        },
      });
  });

  describe('a change that takes viewers away stops a moving trainer first, seen by them', () => {
    const walking: TrainerEvent = {
      type: 'TrainerMovedEvent',
      data: {
        trainerId: 'ash',
        position: { x: 3, y: 4 },
        movement: { isMoving: true, direction: { x: 1, y: 0 }, speed: 100, startedAt: T0 },
        timestamp: T0,
      },
    };
    // 10 ms at 100 units/s along x from (3, 4).
    const stopped = (groups: string[]): TrainerEvent => ({
      type: 'TrainerMovedEvent',
      data: {
        trainerId: 'ash',
        position: { x: 4, y: 4 },
        movement: still,
        timestamp: T0 + 10,
        groups,
      },
    });

    it('public → its first group: everyone sees it stop where it joins', () => {
      spec
        .given([walking])
        .when(change('join', 'party'))
        .then([stopped([]), joined('party')]);
    });

    it('leaving one of its groups: the members of both see it stop', () => {
      spec
        .given([created, joined('gym'), joined('party'), walking])
        .when(change('leave', 'party'))
        .then([stopped(['gym', 'party']), left('party')]);
    });

    it("a change stamped before the latest move still applies; its stop is at that move's time", () => {
      // Walking since T0 + 20; the join was accepted at T0 + 10 and arrives after that start.
      const since20: TrainerEvent = {
        type: 'TrainerMovedEvent',
        data: {
          ...walking.data,
          movement: {
            ...still,
            isMoving: true,
            direction: { x: 1, y: 0 },
            speed: 100,
            startedAt: T0 + 20,
          },
          timestamp: T0 + 20,
        },
      } as TrainerEvent;
      spec
        .given([since20])
        .when(change('join', 'party'))
        .then([
          {
            type: 'TrainerMovedEvent',
            data: {
              trainerId: 'ash',
              position: { x: 3, y: 4 },
              movement: still,
              timestamp: T0 + 20,
              groups: [],
            },
          },
          joined('party'),
        ]);
    });
  });

  describe('a change that adds viewers starts a moving trainer again where it is, seen by them', () => {
    // Walking along x from (3, 4) since T0, in the gym; the change is at T0 + 10.
    const walkingInGym: TrainerEvent[] = [
      created,
      joined('gym'),
      {
        type: 'TrainerMovedEvent',
        data: {
          trainerId: 'ash',
          position: { x: 3, y: 4 },
          movement: { isMoving: true, direction: { x: 1, y: 0 }, speed: 100, startedAt: T0 },
          timestamp: T0,
          groups: ['gym'],
        },
      },
    ];
    // The newcomers learn the walk from the change on: not where or when it began.
    const restarted = (groups: string[]): TrainerEvent => ({
      type: 'TrainerMovedEvent',
      data: {
        trainerId: 'ash',
        position: { x: 4, y: 4 },
        movement: {
          isMoving: true,
          direction: { x: 1, y: 0 },
          speed: 100,
          startedAt: T0 + 10,
        },
        timestamp: T0 + 10,
        groups,
      },
    });

    it('leaving its last group: everyone sees it walk on from there', () => {
      spec
        .given(walkingInGym)
        .when(change('leave', 'gym'))
        .then([restarted([]), left('gym')]);
    });

    it('joining one more group: the members of both see it walk on from there', () => {
      spec
        .given(walkingInGym)
        .when(change('join', 'party'))
        .then([restarted(['gym', 'party']), joined('party')]);
    });

    it('keeps walking the same way at the same speed, whatever the speed setting now', () => {
      DeciderSpecification.for(trainerDecider({ speed: 250 }))
        .given(walkingInGym)
        .when(change('leave', 'gym'))
        .then([restarted([]), left('gym')]);
    });
  });

  it('refuses a join beyond the most groups a trainer may be in; leaving and rejoining stay possible', () => {
    const three = DeciderSpecification.for(trainerDecider({ speed: 100, maxGroups: 3 }));
    const inThree = [created, joined('a'), joined('b'), joined('c')];
    three
      .given(inThree)
      .when(change('join', 'd'))
      .thenThrows(
        TooManyGroupsError,
        (error) =>
          error.message ===
          'trainer "ash" is in 3 groups, the most a trainer may be in: leave one first',
      );
    // Joining one it is in changes nothing, as ever; leaving makes room.
    three.given(inThree).when(change('join', 'b')).then([]);
    three
      .given([...inThree, left('a')])
      .when(change('join', 'd'))
      .then(joined('d'));
    expect(DEFAULT_MAX_GROUPS).toBe(16);
    spec
      .given([created, ...Array.from({ length: 16 }, (_, i) => joined(`g${i}`))])
      .when(change('join', 'one-more'))
      .thenThrows(TooManyGroupsError);
  });

  it('refuses a join of a group whose counted members reach maxMembers; a member, a leave or a bound not counted are not refused', () => {
    const bounded = DeciderSpecification.for(trainerDecider({ speed: 100, maxMembers: 2 }));
    const counted = (action: 'join' | 'leave', groupId: string, members: number): ChangeGroup => ({
      ...change(action, groupId),
      metadata: { now: T0 + 10, members },
    });
    bounded
      .given([created])
      .when(counted('join', 'party', 2))
      .thenThrows(
        GroupFullError,
        (error) =>
          error.message ===
          'group "party" has 2 members, the most a group may have: join when one has left',
      );
    bounded
      .given([created])
      .when(counted('join', 'party', 1))
      .then(joined('party'));
    // A member joining again changes nothing; a member may always leave a full group.
    bounded
      .given([created, joined('party')])
      .when(counted('join', 'party', 2))
      .then([]);
    bounded
      .given([created, joined('party')])
      .when(counted('leave', 'party', 2))
      .then(left('party'));
    // Not counted (the handler reads no count): not bounded; nor is a decider without maxMembers.
    bounded.given([created]).when(change('join', 'party')).then(joined('party'));
    spec
      .given([created])
      .when(counted('join', 'party', 1_000_000))
      .then(joined('party'));
  });

  it('keeps its groups across moves', () => {
    spec
      .given([created, joined('party')])
      .when({
        type: 'MoveTrainer',
        data: { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start', timestamp: T0 },
        metadata: { now: T0 + 20 },
      })
      .thenState({
        exists: true,
        position: { x: 3, y: 4 },
        movement: { isMoving: true, direction: { x: 1, y: 0 }, speed: 100, startedAt: T0 + 20 },
        groups: ['party'],
        movedAt: T0 + 20,
      });
  });
});
