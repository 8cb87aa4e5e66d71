import { DeciderSpecification } from '@causeway/cqrs-core/testing';
import {
  InvalidMoveError,
  SupersededMoveError,
  positionAt,
  trainerDecider,
  type MoveTrainer,
  type TrainerMoved,
} from './trainer.decider';

const T0 = 1_800_000_000_000;
const decider = trainerDecider({ speed: 100 });
const spec = DeciderSpecification.for(decider);

const move = (action: 'start' | 'stop', dx: number, dy: number, now: number): MoveTrainer => ({
  type: 'MoveTrainer',
  data: { trainerId: 'ash', directionX: dx, directionY: dy, action, timestamp: now - 5 },
  metadata: { now },
});
const moved = (
  x: number,
  y: number,
  movement: TrainerMoved['data']['movement'],
  now: number,
): TrainerMoved => ({
  type: 'TrainerMovedEvent',
  data: { trainerId: 'ash', position: { x, y }, movement, timestamp: now, groups: [] },
});
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };

describe('trainer decider', () => {
  it('starts a new trainer at the origin, moving in the normalized direction', () => {
    spec
      .given([])
      .when(move('start', 3, 4, T0))
      .then(
        moved(
          0,
          0,
          { isMoving: true, direction: { x: 0.6, y: 0.8 }, speed: 100, startedAt: T0 },
          T0,
        ),
      );
  });

  it('advances the position by the elapsed movement before stopping', () => {
    spec
      .given([
        moved(10, 10, { isMoving: true, direction: { x: 1, y: 0 }, speed: 100, startedAt: T0 }, T0),
      ])
      .when(move('stop', 0, 0, T0 + 1_500))
      .then(moved(160, 10, still, T0 + 1_500));
  });

  it('turns: advances along the old direction, then moves along the new one from there', () => {
    spec
      .given([
        moved(0, 0, { isMoving: true, direction: { x: 0, y: 1 }, speed: 100, startedAt: T0 }, T0),
      ])
      .when(move('start', -1, 0, T0 + 2_000))
      .then(
        moved(
          0,
          200,
          { isMoving: true, direction: { x: -1, y: 0 }, speed: 100, startedAt: T0 + 2_000 },
          T0 + 2_000,
        ),
      );
  });

  it('does not move a stopped trainer, and never moves backwards in time', () => {
    spec
      .given([moved(5, 5, still, T0)])
      .when(move('stop', 0, 0, T0 + 9_000))
      .then(moved(5, 5, still, T0 + 9_000));
    const state = {
      position: { x: 0, y: 0 },
      movement: { isMoving: true, direction: { x: 1, y: 0 }, speed: 100, startedAt: T0 },
    };
    expect(positionAt(state, T0 - 1_000)).toEqual({ x: 0, y: 0 });
  });

  it("refuses a move stamped before the latest one applied: the later one is the user's last action", () => {
    const east = (startedAt: number) => ({
      isMoving: true,
      direction: { x: 1, y: 0 },
      speed: 100,
      startedAt,
    });
    // Pressed at 5 s, released at 10 s; the press arrives last: the trainer stays where it stopped.
    spec
      .given([moved(0, 0, still, T0), moved(0, 0, still, T0 + 10_000)])
      .when(move('start', 1, 0, T0 + 5_000))
      .thenThrows(
        SupersededMoveError,
        (error) =>
          error.message ===
          `superseded: accepted at ${new Date(T0 + 5_000).toISOString()}, before the move accepted at ${new Date(T0 + 10_000).toISOString()} that was applied first`,
      );
    // A late stop still stops, at the latest move's time: a trainer can always be stopped (after
    // the clock that stamps commands stepped back, every stamp is "late" for a while).
    spec
      .given([moved(0, 0, east(T0 + 10_000), T0 + 10_000)])
      .when(move('stop', 0, 0, T0 + 5_000))
      .then(moved(0, 0, still, T0 + 10_000));
    // A rejection like any other refusal: never retried.
    expect(new SupersededMoveError(T0, T0 + 1)).toBeInstanceOf(InvalidMoveError);
  });

  it('applies a move stamped at the same time as the latest one, in arrival order', () => {
    spec
      .given([moved(0, 0, still, T0 + 10_000)])
      .when(move('start', 1, 0, T0 + 10_000))
      .then(
        moved(
          0,
          0,
          { isMoving: true, direction: { x: 1, y: 0 }, speed: 100, startedAt: T0 + 10_000 },
          T0 + 10_000,
        ),
      );
  });

  it.each([
    ['huge', 1.7e308, 1.7e308],
    ['tiny', 5e-324, 5e-324],
  ])('normalizes %s directions to a unit vector', (_, dx, dy) => {
    const decided = decider.decide(move('start', dx, dy, T0), decider.initialState());
    const [event] = (Array.isArray(decided) ? decided : [decided]) as TrainerMoved[];
    const { direction } = event!.data.movement;
    expect(direction.x).toBeCloseTo(Math.SQRT1_2, 12);
    expect(direction.y).toBeCloseTo(Math.SQRT1_2, 12);
    expect(Math.hypot(direction.x, direction.y)).toBeCloseTo(1, 12);
  });

  it('refuses to start without a direction', () => {
    spec
      .given([])
      .when(move('start', 0, 0, T0))
      .thenThrows(InvalidMoveError);
  });
});
