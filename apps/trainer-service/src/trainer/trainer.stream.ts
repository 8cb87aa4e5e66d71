import {
  type DomainEvent,
  EventSourcedRepository,
  foldEvents,
  MessageFactory,
  SnapshotPolicies,
  type EventStore,
  type LoadedStream,
  type SnapshotStore,
  type StateModel,
} from '@causeway/cqrs-core';
import { TRAINER_MOVED_EVENT } from '@causeway/contracts';
import { commandEventIds } from './command-event-ids';
import { type TrainerEvent, type TrainerState, type trainerDecider } from './trainer.decider';

/** How many command ids a trainer stream remembers, to recognise a redelivered command. */
const RECENT_COMMANDS = 32;

/**
 * What the command handler keeps per trainer: the domain state plus the ids of the latest
 * commands that produced events and the version each ended at. A command redelivered after its
 * events were stored (a crash before it was acknowledged) is found here — also when a snapshot
 * taken at that very save hides the events from the load — and is not decided a second time.
 * (The event store's own idempotency only applies when the expected version does not hold.)
 */
export interface TrainerStreamState {
  trainer: TrainerState;
  recent: readonly (readonly [commandId: string, version: number])[];
  /**
   * The version of the trainer's latest TrainerMovedEvent: the `position.update` an eager
   * notification follows in the log (joins and leaves are not logged there). Undefined until a
   * move is folded (a snapshot taken before it was kept).
   */
  lastMove?: number;
}

export const trainerStreamId = (trainerId: string): string => `trainer-${trainerId}`;
export const TRAINER_AGGREGATE = 'Trainer';
/** Bump when TrainerStreamState or evolve changes: older snapshots are then ignored. */
const SNAPSHOT_SCHEMA_VERSION = 2;

type Decider = ReturnType<typeof trainerDecider>;

function stateModel(decider: Decider): StateModel<TrainerStreamState, TrainerEvent> {
  return {
    initialState: () => ({ trainer: decider.initialState(), recent: [] }),
    evolve(state, events) {
      let recent = state.recent;
      let lastMove = state.lastMove;
      for (const event of events) {
        const { causationId, version } = (event as DomainEvent).metadata ?? {};
        if (typeof version === 'number' && event.type === TRAINER_MOVED_EVENT) lastMove = version;
        if (typeof causationId !== 'string' || typeof version !== 'number') continue;
        recent = [...recent.filter(([id]) => id !== causationId), [causationId, version] as const];
      }
      return {
        trainer: foldEvents(decider, events, state.trainer),
        recent: recent.slice(-RECENT_COMMANDS),
        ...(lastMove !== undefined && { lastMove }),
      };
    },
  };
}

export interface TrainerStreamOptions {
  eventStore: EventStore;
  snapshots?: SnapshotStore;
  /** Snapshot after this many events since the last one; 0 disables snapshots. */
  snapshotEvery: number;
  decider: Decider;
}

/** Loads a trainer's stream and appends the events of one command to it. */
export class TrainerStream {
  private readonly model: StateModel<TrainerStreamState, TrainerEvent>;

  constructor(private readonly options: TrainerStreamOptions) {
    this.model = stateModel(options.decider);
  }

  /** The repository of one command: its events get ids derived from the command id. */
  repository(commandId: string): EventSourcedRepository<TrainerStreamState, TrainerEvent> {
    const { snapshots, snapshotEvery } = this.options;
    return new EventSourcedRepository(this.model, {
      eventStore: this.options.eventStore,
      aggregateType: TRAINER_AGGREGATE,
      messages: new MessageFactory({ newId: commandEventIds(commandId) }),
      snapshots:
        snapshots && snapshotEvery > 0
          ? {
              store: snapshots,
              policy: SnapshotPolicies.everyEvents(snapshotEvery),
              schemaVersion: SNAPSHOT_SCHEMA_VERSION,
            }
          : undefined,
    });
  }

  /**
   * The state after `events` of `commandId` are appended to `loaded`: an append succeeds only at
   * the loaded version, so the new events take the next versions. Given to save() so that a
   * snapshot taken by that save already remembers the command.
   */
  stateAfter(
    loaded: LoadedStream<TrainerStreamState>,
    commandId: string,
    events: readonly TrainerEvent[],
  ): TrainerStreamState {
    return this.model.evolve(
      loaded.state,
      events.map((event, index) => ({
        ...event,
        metadata: { causationId: commandId, version: loaded.version + index + 1 },
      })),
    );
  }
}
