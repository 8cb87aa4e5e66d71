import { AssertionError } from 'node:assert';
import { AggregateSpecification, DeciderSpecification } from './given-when-then';
import {
  Trainer,
  TrainerRetiredError,
  move,
  moved,
  trainerDecider,
} from '../../test/fixtures/trainer.domain';

const retired = { type: 'TrainerRetired' as const, data: { at: 't0' } };

describe('DeciderSpecification', () => {
  const spec = DeciderSpecification.for(trainerDecider);

  it('fails every then when decide accepts the command but evolve throws on its events', () => {
    const broken = DeciderSpecification.for({
      ...trainerDecider,
      evolve: (state: ReturnType<typeof trainerDecider.initialState>, event: { type: string }) => {
        if (event.type === 'TrainerMoved') throw new Error('evolve cannot handle TrainerMoved');
        return state;
      },
    } as typeof trainerDecider);
    const scenario = () => broken.given().when(move(1, 0, 't'));
    for (const check of [
      () => scenario().thenThrows(Error),
      () => scenario().then(moved(1, 0, 't')),
      () => scenario().thenState({ x: 1, y: 0, moves: 1, retired: false }),
    ])
      expect(check).toThrow(/then evolve threw Error: evolve cannot handle TrainerMoved/);
  });

  it('passes when the command produces the expected events', () => {
    spec
      .given([moved(1, 1)])
      .when(move(2, 3, 't'))
      .then([moved(3, 4, 't')]);
    spec
      .given()
      .when(move(1, 0, 't'))
      .then(moved(1, 0, 't'));
    spec
      .given([moved(1, 1)])
      .when(move(2, 3, 't'))
      .thenState({ x: 3, y: 4, moves: 2, retired: false });
  });

  it('fails when the events differ, or when the command throws', () => {
    expect(() =>
      spec
        .given([moved(1, 1)])
        .when(move(2, 3, 't'))
        .then([moved(3, 3, 't')]),
    ).toThrow(AssertionError);
    expect(() =>
      spec
        .given([moved(1, 1)])
        .when(move(2, 3, 't'))
        .then([]),
    ).toThrow(AssertionError);
    // A command that throws fails as an assertion naming what was expected and the error.
    let failure: unknown;
    try {
      spec.given([retired]).when(move(1, 1)).then([]);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(AssertionError);
    expect((failure as Error).message).toMatch(
      /^Expected the events \[\], but the command threw TrainerRetiredError: /,
    );
    expect((failure as Error).cause).toBeInstanceOf(TrainerRetiredError);
    expect(() =>
      spec
        .given([retired])
        .when(move(1, 1))
        .thenState({} as never),
    ).toThrow(/^Expected the state \{\}, but the command threw TrainerRetiredError/);
  });

  it('thenThrows accepts an error class, a class with a check, or a predicate', () => {
    spec
      .given([retired])
      .when(move(1, 1, 'later'))
      .thenThrows(TrainerRetiredError);
    spec
      .given([retired])
      .when(move(1, 1, 'later'))
      .thenThrows(Error);
    spec
      .given([retired])
      .when(move(1, 1, 'later'))
      .thenThrows(TrainerRetiredError, (e) => e.at === 'later');
    spec
      .given([retired])
      .when(move(1, 1, 'later'))
      .thenThrows((e) => (e as Error).message.includes('retired'));
  });

  it('thenThrows fails when nothing is thrown or the wrong error is', () => {
    expect(() => spec.given([]).when(move(1, 1)).thenThrows(TrainerRetiredError)).toThrow(
      /Expected the command to throw/,
    );
    expect(() => spec.given([retired]).when(move(1, 1)).thenThrows(RangeError)).toThrow(
      /Expected RangeError/,
    );
    expect(() =>
      spec
        .given([retired])
        .when(move(1, 1))
        .thenThrows(TrainerRetiredError, () => false),
    ).toThrow(/did not satisfy the check/);
    expect(() =>
      spec
        .given([retired])
        .when(move(1, 1))
        .thenThrows(() => false),
    ).toThrow(/did not satisfy the predicate/);
  });
});

describe('AggregateSpecification', () => {
  const spec = AggregateSpecification.for(() => new Trainer('ash'));

  it('compares the events the action applied after the given history', () => {
    spec
      .given([moved(1, 1)])
      .when((t) => t.move(1, 1, 't'))
      .then([moved(2, 2, 't')]);
    spec
      .given([moved(1, 1), retired])
      .when((t) => t.retire('again'))
      .then([]);
    spec
      .given([moved(1, 1)])
      .when((t) => t.move(1, 1, 't'))
      .thenState({ x: 2, y: 2, moves: 2, retired: false });
    expect(() =>
      spec
        .given([])
        .when((t) => t.move(1, 1, 't'))
        .then([moved(1, 2, 't')]),
    ).toThrow(AssertionError);
  });

  it('refuses an async act instead of judging before it has run', async () => {
    let rejected = false;
    const failing = async (t: Trainer) => {
      await Promise.resolve();
      rejected = true;
      t.retire('late');
      throw new Error('refused, but too late to be seen');
    };
    for (const check of [
      (then: ReturnType<typeof spec.given>['when']) => then(failing).then([]),
      (then: ReturnType<typeof spec.given>['when']) => then(failing).thenThrows(Error),
    ])
      expect(() => check(spec.given([]).when)).toThrow(
        /the act given to when\(\) returned a promise/,
      );
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejected).toBe(true); // it ran, and its rejection was not left unhandled
  });

  it('checks refusals', () => {
    spec
      .given([retired])
      .when((t) => t.move(1, 1, 'x'))
      .thenThrows(TrainerRetiredError, (e) => e.at === 'x');
    expect(() =>
      spec
        .given([])
        .when((t) => t.move(1, 1, 'x'))
        .thenThrows(TrainerRetiredError),
    ).toThrow(AssertionError);
  });

  it('runs every scenario on a fresh aggregate', () => {
    const scenario = spec.given([moved(1, 1)]).when((t) => t.move(1, 1, 't'));
    scenario.then([moved(2, 2, 't')]);
    scenario.then([moved(2, 2, 't')]);
  });
});
