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
  /**
   * Global positions of `newEvents` in the store's log (empty when it decided nothing). A read
   * model that has reached the last one reflects this command: `ProjectionRunner.waitFor`.
   */
  positions: number[];
}

/** What one call of a command handler may add to the handler's options. */
export interface CommandCall {
  /**
   * The stream version the caller's decision is based on (e.g. an HTTP `If-Match` of the
   * version it read). The command is decided only if the stream is still at that version;
   * otherwise it throws ConcurrencyConflictError (`expected` = this, `actual` = the stream's)
   * without deciding, and is not retried: a retry would decide on a state the caller never
   * saw. 0 = the stream must not exist yet. Default: the version just loaded (retried on
   * conflict as the options say).
   */
  expectedVersion?: number;
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
): (
  streamId: string,
  command: Command,
  call?: CommandCall,
) => Promise<CommandResult<State, Event>> {
  const { retry: retryOptions, ...repositoryOptions } = options;
  const repository: EventSourcedRepository<State, Event> = deciderRepository(decider, {
    aggregateType: '',
    ...repositoryOptions,
    eventStore: store,
  });
  return async (streamId, command, call = {}) => {
    const { expectedVersion } = call;
    const once = async (attempt: number): Promise<CommandResult<State, Event>> => {
      const loaded = await repository.load(streamId, { expectedVersion });
      const newEvents = decideEvents(decider, command, loaded.state);
      const saved = await repository.save(loaded, newEvents);
      return {
        newState: saved.state,
        newEvents,
        nextExpectedVersion: saved.version,
        attempts: attempt,
        positions: [...(saved.positions ?? [])],
      };
    };
    return retryOptions === false || expectedVersion !== undefined
      ? once(1)
      : retryOnConflict(once, retryOptions);
  };
}

/** One command against one stream; see commandHandler. */
export function handleCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  streamId: string,
  decider: Decider<Command, Event, State>,
  command: Command,
  options: HandleCommandOptions & CommandCall = {},
): Promise<CommandResult<State, Event>> {
  const { expectedVersion, ...handlerOptions } = options;
  return commandHandler(store, decider, handlerOptions)(streamId, command, { expectedVersion });
}
