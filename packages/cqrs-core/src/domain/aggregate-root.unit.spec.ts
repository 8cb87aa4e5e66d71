import { Trainer, TrainerRetiredError, moved } from '../../test/fixtures/trainer.domain';

describe('AggregateRoot', () => {
  it('starts at version 0 with the initial state and nothing uncommitted', () => {
    const trainer = new Trainer('ash');
    expect(trainer.id).toBe('ash');
    expect(trainer.version).toBe(0);
    expect(trainer.persistedVersion).toBe(0);
    expect(trainer.state).toEqual({ x: 0, y: 0, moves: 0, retired: false });
    expect(trainer.uncommittedEvents).toEqual([]);
  });

  it('apply records uncommitted events, evolves state and counts versions', () => {
    const trainer = new Trainer('ash');
    trainer.loadFromHistory([moved(1, 1), moved(2, 2)]);
    trainer.move(1, 0, 'now');
    trainer.move(0, 5, 'later');
    expect(trainer.state).toEqual({ x: 3, y: 7, moves: 4, retired: false });
    expect(trainer.version).toBe(4);
    expect(trainer.persistedVersion).toBe(2);
    expect(trainer.uncommittedEvents).toEqual([moved(3, 2, 'now'), moved(3, 7, 'later')]);

    trainer.markCommitted();
    expect(trainer.uncommittedEvents).toEqual([]);
    expect(trainer.persistedVersion).toBe(4);
  });

  it('refuses to load history or a snapshot over uncommitted events', () => {
    const trainer = new Trainer('ash');
    trainer.move(1, 1, 'now');
    expect(() => trainer.loadFromHistory([moved(9, 9)])).toThrow(/1 uncommitted events/);
    expect(() => trainer.restoreSnapshot({ x: 0, y: 0, moves: 0, retired: false }, 3)).toThrow(
      /uncommitted/,
    );
    expect(trainer.state.x).toBe(1);
  });

  it('restores from a snapshot and continues from its version', () => {
    const source = new Trainer('ash');
    source.loadFromHistory([moved(1, 1), moved(4, 4), moved(6, 1)]);
    const snapshot = JSON.parse(JSON.stringify(source.snapshotState())) as unknown;

    const restored = new Trainer('ash');
    restored.restoreSnapshot(snapshot, source.version);
    restored.loadFromHistory([moved(7, 7)]);
    source.loadFromHistory([moved(7, 7)]);
    expect(restored.state).toEqual(source.state);
    expect(restored.version).toBe(4);
  });

  it('lets command methods refuse commands without changing anything', () => {
    const trainer = new Trainer('ash');
    trainer.retire('t1');
    trainer.retire('t2'); // idempotent: no second event
    expect(trainer.uncommittedEvents).toHaveLength(1);
    expect(() => trainer.move(1, 1, 't3')).toThrow(TrainerRetiredError);
    expect(trainer.version).toBe(1);
  });
});
