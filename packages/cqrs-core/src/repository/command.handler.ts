import { type EventStore } from '../event-store/event-store.port';
import { type Decider, decideEvents } from '../domain/decider';
import { type DomainEvent } from '../domain/domain-event';
import { deciderRepository } from './decider.repository';
import { type EventSourcedRepository, type RepositoryOptions } from './event-sourced.repository';
import { type RetryOnConflictOptions, retryOnConflict } from './retry-on-conflict';

export interface HandleCommandOptions extends Partial<Omit<RepositoryOptions, 'eventStore'>> {
  /** Retry on ConcurrencyConflictError (reload, decide again, append again). Default on; `false` disables. */
  retry?: RetryOnConflictOptions | false;
}

export interface CommandResult<State, Event> {
  /** State after the new events. */
  newState: State;
  /** Events the command produced and that are now stored (empty when it decided nothing). */
  newEvents: Event[];
  /** Stream version after the append; pass it as expected version to chain. */
  nextExpectedVersion: number;
  /** How many read -> decide -> append cycles it took (1 without conflict). */
  attempts: number;
}

/**
 * The Emmett-style command handler: read the stream (from the latest snapshot, if configured)
 * -> fold -> decide -> append with the expected version; on a concurrency conflict, do it all
 * again with jittered backoff (retryOnConflict). `decide` therefore may run several times for one
 * command and must be pure. Domain errors thrown by `decide` are not retried.
 *
 * Build it once per decider with commandHandler(); handleCommand() is the one-shot form.
 */
export function commandHandler<Command, Event extends DomainEvent, State>(
  store: EventStore,
  decider: Decider<Command, Event, State>,
  options: HandleCommandOptions = {},
): (streamId: string, command: Command) => Promise<CommandResult<State, Event>> {
  const { retry: retryOptions, ...repositoryOptions } = options;
  const repository: EventSourcedRepository<State, Event> = deciderRepository(decider, {
    aggregateType: '',
    ...repositoryOptions,
    eventStore: store,
  });
  return async (streamId, command) => {
    const once = async (attempt: number): Promise<CommandResult<State, Event>> => {
      const loaded = await repository.load(streamId);
      const newEvents = decideEvents(decider, command, loaded.state);
      const saved = await repository.save(loaded, newEvents);
      return {
        newState: saved.state,
        newEvents,
        nextExpectedVersion: saved.version,
        attempts: attempt,
      };
    };
    return retryOptions === false ? once(1) : retryOnConflict(once, retryOptions);
  };
}

/** One command against one stream; see commandHandler. */
export function handleCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  streamId: string,
  decider: Decider<Command, Event, State>,
  command: Command,
  options: HandleCommandOptions = {},
): Promise<CommandResult<State, Event>> {
  return commandHandler(store, decider, options)(streamId, command);
}
