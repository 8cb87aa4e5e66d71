import { type EventStore, type StoredEvent } from '../event-store/event-store.port';
import { type Decider, decideEvents } from '../domain/decider';
import { type DomainEvent } from '../domain/domain-event';
import { deciderRepository } from './decider.repository';
import {
  type EventSourcedRepository,
  type LoadedStream,
  type RepositoryOptions,
} from './event-sourced.repository';
import {
  checkRetryOnConflictOptions,
  type RetryOnConflictOptions,
  retryOnConflict,
} from './retry-on-conflict';
import { CommandHistoryRemovedError, StateNotRebuildableError } from './repository.errors';

export interface HandleCommandOptions extends Partial<Omit<RepositoryOptions, 'eventStore'>> {
  /** Retry on ConcurrencyConflictError (reload, decide again, append again). Default on; `false` disables. */
  retry?: RetryOnConflictOptions | false;
}

export interface CommandResult<State, Event> {
  /** State after the new events (a redelivery: the stream's state now). */
  newState: State;
  /**
   * Events the command produced and that are now stored (empty when it decided nothing; a
   * redelivery: the events its first delivery stored, `type` and `data`).
   */
  newEvents: Event[];
  /**
   * Stream version after the append (a redelivery: the stream's version now); pass it as
   * expected version to chain.
   */
  nextExpectedVersion: number;
  /** How many read -> decide -> append cycles it took (1 without conflict). */
  attempts: number;
  /**
   * Global positions of `newEvents` in the store's log (empty when it decided nothing). A read
   * model that has reached the last one reflects this command: `ProjectionRunner.waitFor`.
   */
  positions: number[];
  /**
   * Set when the command (by its id, see CommandCall.commandId) had been applied to the stream
   * already: nothing was decided or appended this time. `positions` are then those of its
   * stored events when they were read (empty, with `eventsRemoved`, when they were removed
   * before they could be read).
   */
  alreadyApplied?: true;
  /**
   * Set with `alreadyApplied` when the store found the command's events stored but they were
   * removed (retention, a truncate) before this delivery could read them back: a delivery that
   * raced another one of the command, or whose events a snapshot hid, with a removal in
   * between. Nothing of them is left to answer with: `newEvents` are the events this delivery
   * decided (not stored again), `positions` is empty (nothing to wait for: retention bounded
   * by `processedUpTo` removes only events the readers have passed), `newState` and
   * `nextExpectedVersion` are the stream's now. Never on a stream the removal left cut with no
   * snapshot: that throws StateNotRebuildableError, no state being right (session 49).
   */
  eventsRemoved?: true;
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
  /**
   * The command's id: default its `messageId` when the command is a message envelope (a
   * non-empty string `messageId`), else none. With an id the command's events get the
   * messageIds `commandEventId(commandId, i)` and `causationId` = the id, and a command found
   * applied already is answered without deciding again (see commandHandler).
   */
  commandId?: string;
}

/**
 * The Emmett-style command handler: read the stream (from the latest snapshot, if configured)
 * -> fold -> decide -> append with the expected version; on a concurrency conflict, do it all
 * again with jittered backoff (retryOnConflict). `decide` therefore may run several times for one
 * command and must be pure. Domain errors thrown by `decide` are not retried.
 *
 * Redeliveries: every transport is at-least-once, so a command whose events were appended may
 * come again (a crash before the ack). A command with an id (a message envelope's `messageId`,
 * or `CommandCall.commandId`) gives its events ids derived from it and its index
 * (`commandEventId`), and a delivery of a command already applied to the stream is not decided
 * again: it answers `alreadyApplied: true`, the stored events, the stream's state and version,
 * without appending (also when the stream moved since, and whatever `expectedVersion` says).
 * It is recognised among the events the load reads (all of them without snapshots; from a
 * snapshot, the events after it and the snapshot's own); with snapshots, a command not found
 * there costs one more store call before its append (an append that cannot hold: the store
 * looks the first event's id up and writes nothing), and a redelivery hidden by a later
 * snapshot is only recognised if `decide` still decides events for it (a domain error it
 * throws is thrown). Two deliveries handled at once: one appends, the other's append finds
 * the same ids stored (answered `alreadyApplied`, after one more load: the stream's state and
 * version then, as for any redelivery) or conflicts and is retried, then found.
 * A command with an id that is not found on a stream whose first events were removed
 * (truncated, or cut by retention: StreamInfo.truncated) and that was loaded without a
 * snapshot is refused with CommandHistoryRemovedError, nothing decided: it may have been among
 * the removed events (session 49, docs/adr/003); one found among the events left is refused
 * with StateNotRebuildableError, as a load without an id is: the state folded from them is not
 * the stream's, and an answer must carry the state. From a snapshot it is decided as above: the
 * store is asked about the events it still has, so a redelivery whose events retention removed
 * is decided again; keep retention's window above the redelivery window.
 * A command without an id (a plain object) gets random event ids and no such check: use the
 * deduplicator middleware for those.
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
  // A retry setting that cannot work is refused now, not at the first conflict (in production).
  if (retryOptions !== false) checkRetryOnConflictOptions(retryOptions);
  const repository: EventSourcedRepository<State, Event> = deciderRepository(decider, {
    aggregateType: '',
    ...repositoryOptions,
    eventStore: store,
  });
  return async (streamId, command, call = {}) => {
    const { expectedVersion } = call;
    const commandId = call.commandId ?? commandIdOf(command);
    /**
     * Every envelope was stored already: a concurrent delivery of the command appended it, and
     * other commands may have been appended after it. The store answered the version of the
     * command's last event, and `save` folded the events onto the state this delivery loaded:
     * a version that conflicts with the stream's and a state it never had. Answered as a
     * redelivery found by a load is: the stream's state and version now (one more load, only
     * on this path), and the command's events as stored.
     */
    const appliedMeanwhile = async (
      id: string,
      newEvents: Event[],
      attempt: number,
    ): Promise<CommandResult<State, Event>> => {
      // Applied for sure: on a stream now cut with no snapshot, not found among the events left
      // (CommandHistoryRemovedError from the load), there is still no state to answer with.
      const now = await repository.load(streamId, { commandId: id }).catch((error: unknown) => {
        if (!(error instanceof CommandHistoryRemovedError)) throw error;
        throw new StateNotRebuildableError(
          streamId,
          error.firstVersion,
          [],
          repositoryOptions.snapshots?.schemaVersion,
        );
      });
      const stored = await repository.appliedBefore(now, id, newEvents[0]!);
      // Not found: removed since (retention).
      return applied<State, Event>(now, stored ?? [], attempt, newEvents);
    };
    const once = async (attempt: number): Promise<CommandResult<State, Event>> => {
      // A stream cut with no snapshot is refused by the load (LoadOptions.commandId).
      const loaded = await repository.load(streamId, { expectedVersion, commandId });
      if (loaded.commandEvents) return applied<State, Event>(loaded, loaded.commandEvents, attempt);
      const newEvents = decideEvents(decider, command, loaded.state);
      const saved = await repository.save(loaded, newEvents, { commandId });
      if (saved.commandEvents)
        return applied<State, Event>(saved, saved.commandEvents, attempt, newEvents);
      const positions = [...(saved.positions ?? [])];
      if (commandId !== undefined && newEvents.length > 0 && positions.length === 0)
        return appliedMeanwhile(commandId, newEvents, attempt);
      return {
        newState: saved.state,
        newEvents,
        nextExpectedVersion: saved.version,
        attempts: attempt,
        positions,
      };
    };
    return retryOptions === false || expectedVersion !== undefined
      ? once(1)
      : retryOnConflict(once, retryOptions);
  };
}

/** The messageId of a command that is a message envelope, else undefined. */
function commandIdOf(command: unknown): string | undefined {
  if (typeof command !== 'object' || command === null) return undefined;
  const { messageId } = command as { messageId?: unknown };
  return typeof messageId === 'string' && messageId.length > 0 ? messageId : undefined;
}

/**
 * The answer to a command found applied: its stored events, the stream as loaded. None stored
 * (found, then removed before they were read): the events this delivery `decided`, said so.
 */
function applied<State, Event>(
  loaded: LoadedStream<State>,
  stored: readonly StoredEvent[],
  attempt: number,
  decided: Event[] = [],
): CommandResult<State, Event> {
  if (stored.length === 0)
    return {
      newState: loaded.state,
      newEvents: decided,
      nextExpectedVersion: loaded.version,
      attempts: attempt,
      positions: [],
      alreadyApplied: true,
      eventsRemoved: true,
    };
  return {
    newState: loaded.state,
    newEvents: stored.map((event) => ({ type: event.type, data: event.data }) as Event),
    nextExpectedVersion: loaded.version,
    attempts: attempt,
    positions: stored.map((event) => event.position),
    alreadyApplied: true,
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
  const { expectedVersion, commandId, ...handlerOptions } = options;
  return commandHandler(store, decider, handlerOptions)(streamId, command, {
    expectedVersion,
    commandId,
  });
}
