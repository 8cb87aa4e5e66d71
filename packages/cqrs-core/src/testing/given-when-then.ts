import assert from 'node:assert/strict';
import { type AggregateRoot } from '../domain/aggregate-root';
import { type Decider, decideEvents, foldEvents } from '../domain/decider';
import { type DomainEvent } from '../domain/domain-event';
import { assertErrorMatches, describeError, type ErrorExpectation } from './error.expectation';

export type { ErrorExpectation } from './error.expectation';

export interface Then<Event, State> {
  /** The command produced exactly these events, in order (deep equality). `then([])`: nothing happened. */
  then(expected: Event | readonly Event[]): void;
  /** The state after the produced events deep-equals `expected`. */
  thenState(expected: State): void;
  /** The command was refused with this error class (and `check`, when given) or matching predicate. */
  thenThrows<E extends Error>(expected: ErrorExpectation<E>, check?: (error: E) => boolean): void;
}

type Outcome<Event, State> =
  { ok: true; events: Event[]; state: State } | { ok: false; error: unknown };

function then<Event, State>(run: () => Outcome<Event, State>): Then<Event, State> {
  const succeeded = (expecting: string): { events: Event[]; state: State } => {
    const outcome = run();
    if (!outcome.ok) {
      // An assertion failure that says what was expected, with the error as its cause (and
      // its stack), rather than the command's error as if the test itself had failed.
      const failure = new assert.AssertionError({
        message: `Expected ${expecting}, but the command threw ${describeError(outcome.error)}`,
      });
      (failure as { cause?: unknown }).cause = outcome.error;
      throw failure;
    }
    return outcome;
  };
  return {
    then(expected) {
      const list = Array.isArray(expected) ? expected : [expected];
      assert.deepStrictEqual(succeeded(`the events ${JSON.stringify(list)}`).events, list);
    },
    thenState(expected) {
      assert.deepStrictEqual(succeeded(`the state ${JSON.stringify(expected)}`).state, expected);
    },
    thenThrows(expected, check) {
      const outcome = run();
      if (outcome.ok) {
        assert.fail(
          `Expected the command to throw, but it produced ${JSON.stringify(outcome.events)}`,
        );
      }
      assertErrorMatches(outcome.error, expected, check);
    },
  };
}

/**
 * Given/when/then for deciders (Emmett style):
 * `DeciderSpecification.for(decider).given(events).when(command).then(events)`.
 * Each `then*` call runs the whole scenario afresh; nothing is shared between calls.
 */
export const DeciderSpecification = {
  for<Command, Event, State>(decider: Decider<Command, Event, State>) {
    return {
      given(events: readonly Event[] = []) {
        return {
          when(command: Command): Then<Event, State> {
            return then(() => {
              const state = foldEvents(decider, events);
              let produced: Event[];
              try {
                produced = decideEvents(decider, command, state);
              } catch (error) {
                return { ok: false, error };
              }
              // Not a refusal: decide accepted the command, so a repository would have stored
              // these events before evolve failed on them. Every then* fails, saying so.
              try {
                return { ok: true, events: produced, state: foldEvents(decider, produced, state) };
              } catch (error) {
                const failure = new assert.AssertionError({
                  message:
                    `decide produced ${JSON.stringify(produced)}, then evolve threw ` +
                    `${describeError(error)} on them (a repository stores the events first)`,
                });
                (failure as { cause?: unknown }).cause = error;
                throw failure;
              }
            });
          },
        };
      },
    };
  },
};

/**
 * Given/when/then for AggregateRoot classes:
 * `AggregateSpecification.for(() => new Trainer('ash')).given(events).when((t) => t.move(cmd)).then(events)`.
 * `given` events are loaded as history; `then` compares the uncommitted events `when` applied.
 */
export const AggregateSpecification = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any aggregate; types come from A
  for<A extends AggregateRoot<any, DomainEvent>>(create: () => A) {
    type Event = A['uncommittedEvents'][number];
    type State = A['state'];
    return {
      given(events: readonly Event[] = []) {
        return {
          /** `act` must be synchronous: one returning a promise is refused (TypeError). */
          when(act: (aggregate: A) => void): Then<Event, State> {
            return then(() => {
              const aggregate = create();
              aggregate.loadFromHistory(events);
              let acted: unknown;
              try {
                acted = act(aggregate);
              } catch (error) {
                return { ok: false, error };
              }
              if (isThenable(acted)) {
                // Its outcome would come after then* has judged: refused, not guessed at.
                acted.then(undefined, () => undefined);
                throw new TypeError(
                  'AggregateSpecification: the act given to when() returned a promise. Aggregate ' +
                    'methods are domain code (no I/O) and must be synchronous; the ' +
                    'specification judges what act did when it returns',
                );
              }
              return { ok: true, events: [...aggregate.uncommittedEvents], state: aggregate.state };
            });
          },
        };
      },
    };
  },
};

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}
