import { StreamNotFoundError } from '../event-store/event-store.errors';
import { type AggregateRoot } from '../domain/aggregate-root';
import { type DomainEvent } from '../domain/domain-event';
import {
  EventSourcedRepository,
  type LoadedStream,
  type RepositoryOptions,
} from './event-sourced.repository';
import { type RetryOnConflictOptions, retryOnConflict } from './retry-on-conflict';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any state; the aggregate class fixes it
type AnyAggregate = AggregateRoot<any, DomainEvent>;

export interface AggregateRepositoryOptions<A extends AnyAggregate> extends RepositoryOptions {
  /** A new, empty aggregate with this id. */
  create(id: string): A;
}

/**
 * Repository for AggregateRoot classes (S2-7): load restores the latest snapshot
 * (`restoreSnapshot`) and replays the events after it (`loadFromHistory`); save appends the
 * uncommitted events with expected version `persistedVersion` and marks them committed.
 *
 * An aggregate instance belongs to one load -> act -> save cycle; after a
 * ConcurrencyConflictError, load it again (update() does, with retry).
 */
export class AggregateRepository<A extends AnyAggregate> {
  private readonly inner: EventSourcedRepository<A, DomainEvent>;
  /** What load() knew about snapshots of an aggregate, for the snapshot policy at save. */
  private readonly loads = new WeakMap<A, LoadedStream<A>>();

  constructor(private readonly options: AggregateRepositoryOptions<A>) {
    this.inner = new EventSourcedRepository<A, DomainEvent>(
      {
        initialState: (id) => options.create(id),
        evolve: (aggregate, events) => {
          aggregate.loadFromHistory(events);
          return aggregate;
        },
        toSnapshot: (aggregate) => aggregate.snapshotState(),
        fromSnapshot: (snapshot, id, version) => {
          const aggregate = options.create(id);
          aggregate.restoreSnapshot(snapshot, version);
          return aggregate;
        },
      },
      options,
    );
  }

  /** The aggregate at its current version; a fresh one at version 0 when the stream has no events. */
  /** @param options.expectedVersion see EventSourcedRepository.load */
  async load(id: string, options: { expectedVersion?: number } = {}): Promise<A> {
    const loaded = await this.inner.load(id, options);
    // The stream's version, not the count of events replayed: they differ after a truncation,
    // retention or a soft delete (versions continue), and the next save expects the former.
    loaded.state.markCommitted(loaded.version);
    this.loads.set(loaded.state, loaded);
    return loaded.state;
  }

  /** @throws StreamNotFoundError when the stream has no events */
  async loadExisting(id: string): Promise<A> {
    const aggregate = await this.load(id);
    if (aggregate.version === 0) throw new StreamNotFoundError(id);
    return aggregate;
  }

  /**
   * Appends the uncommitted events and marks them committed. Returns the stream as saved, as a
   * decider repository's save does: its `version`, and the `positions` of the appended events
   * in the global log (for `ProjectionRunner.waitFor`, to read your own write). Without
   * uncommitted events nothing is appended and `positions` is undefined.
   * @throws ConcurrencyConflictError when the stream moved since the aggregate was loaded
   */
  async save(aggregate: A): Promise<LoadedStream<A>> {
    const events = [...aggregate.uncommittedEvents];
    const known = this.loads.get(aggregate);
    const loaded: LoadedStream<A> = {
      streamId: aggregate.id,
      state: aggregate,
      version: aggregate.persistedVersion,
      snapshotVersion: known?.snapshotVersion ?? 0,
      snapshotTakenAt: known?.snapshotTakenAt,
      replayedEvents: 0,
    };
    if (events.length === 0) return loaded;
    const saved = await this.inner.save(loaded, events, { stateAfter: aggregate });
    aggregate.markCommitted(saved.version);
    this.loads.set(aggregate, saved);
    return saved;
  }

  /**
   * load -> act -> save, retried on conflict with a freshly loaded aggregate each time (`act`
   * may run several times: keep side effects out of it). Returns the saved aggregate.
   *
   * With `expectedVersion` (the version the caller's decision is based on, e.g. an HTTP
   * `If-Match`), `act` runs only if the aggregate is still at that version; otherwise it throws
   * ConcurrencyConflictError without acting, and a conflict is not retried (see
   * CommandCall.expectedVersion).
   */
  async update(
    id: string,
    act: (aggregate: A) => void | Promise<void>,
    options: { retry?: RetryOnConflictOptions | false; expectedVersion?: number } = {},
  ): Promise<A> {
    const { expectedVersion } = options;
    const once = async (): Promise<A> => {
      const aggregate = await this.load(id, { expectedVersion });
      await act(aggregate);
      await this.save(aggregate);
      return aggregate;
    };
    return options.retry === false || expectedVersion !== undefined
      ? once()
      : retryOnConflict(once, options.retry);
  }
}
