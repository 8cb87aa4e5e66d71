import { type Decider, decideEvents, foldEvents } from './decider';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { commandHandler } from '../repository/command.handler';
import {
  move,
  moved,
  type TrainerCommand,
  trainerDecider,
  type TrainerEvent,
  type TrainerState,
} from '../../test/fixtures/trainer.domain';

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

describe('decideEvents with a decide that returns nothing', () => {
  it('refuses it naming the command type, before anything is appended', async () => {
    const store = new InMemoryEventStore();
    const forgetful: Decider<TrainerCommand, TrainerEvent, TrainerState> = {
      ...trainerDecider,
      // A switch that forgot a `return` for RetireTrainer.
      decide: (command, state) =>
        command.type === 'MoveTrainer'
          ? trainerDecider.decide(command, state)
          : (undefined as unknown as TrainerEvent[]),
    };
    const handle = commandHandler(store, forgetful, { aggregateType: 'Trainer' });
    const retire: TrainerCommand = { type: 'RetireTrainer', data: {}, metadata: { now: 't' } };
    const error = await handle('trainer-1', retire).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(
      'decide returned undefined for command RetireTrainer; return [] for no events',
    );
    expect(await store.readStream('trainer-1')).toEqual([]);
  });
});
