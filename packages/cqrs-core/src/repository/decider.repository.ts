import { type Decider, foldEvents } from '../domain/decider';
import { type DomainEvent } from '../domain/domain-event';
import { EventSourcedRepository, type RepositoryOptions } from './event-sourced.repository';

/**
 * A repository whose state is folded by a decider's `evolve`. Decider states are immutable
 * values (evolve returns a new state), so a loaded state can be shared and snapshotted as is.
 */
export function deciderRepository<Command, Event extends DomainEvent, State>(
  decider: Decider<Command, Event, State>,
  options: RepositoryOptions,
): EventSourcedRepository<State, Event> {
  return new EventSourcedRepository<State, Event>(
    {
      initialState: () => decider.initialState(),
      evolve: (state, events) => foldEvents(decider, events, state),
    },
    options,
  );
}
