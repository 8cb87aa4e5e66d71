import { decideEvents, foldEvents } from './decider';
import { move, moved, trainerDecider } from '../../test/fixtures/trainer.domain';

describe('decider helpers', () => {
  it('foldEvents folds from the initial state or from a given state', () => {
    expect(foldEvents(trainerDecider, [moved(1, 1), moved(3, 2)])).toEqual({
      x: 3,
      y: 2,
      moves: 2,
      retired: false,
    });
    expect(foldEvents(trainerDecider, [], { x: 5, y: 5, moves: 9, retired: false })).toEqual({
      x: 5,
      y: 5,
      moves: 9,
      retired: false,
    });
    expect(
      foldEvents(trainerDecider, [moved(1, 0)], { x: 5, y: 5, moves: 9, retired: false }).moves,
    ).toBe(10);
  });

  it('decideEvents normalises a single event and a list to a fresh array', () => {
    const state = trainerDecider.initialState();
    expect(decideEvents(trainerDecider, move(1, 2), state)).toEqual([moved(1, 2)]);
    const list = decideEvents(
      trainerDecider,
      { type: 'RetireTrainer', data: {}, metadata: { now: 't' } },
      state,
    );
    expect(list).toEqual([{ type: 'TrainerRetired', data: { at: 't' } }]);
  });

  it('decide is deterministic: time comes from the command', () => {
    const state = foldEvents(trainerDecider, [moved(1, 1)]);
    const a = decideEvents(trainerDecider, move(1, 0, '2026-05-05T00:00:00.000Z'), state);
    const b = decideEvents(trainerDecider, move(1, 0, '2026-05-05T00:00:00.000Z'), state);
    expect(a).toEqual(b);
  });
});
