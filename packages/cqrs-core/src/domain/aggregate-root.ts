import { type DomainEvent } from './domain-event';

/**
 * Base class of class-style aggregates. Command methods check invariants and call `apply`;
 * `evolve` (the "when" of other frameworks) changes state and is the only place that does.
 * Pure: no I/O. The repository loads, saves and snapshots it.
 *
 * Versions: `version` is the stream version plus the uncommitted events; `persistedVersion` is
 * the stream version the aggregate was loaded (or last saved) at, i.e. the expected version of
 * the next save. The stream version is the store's: after a truncation, retention or a soft
 * delete it is more than the events replayed (versions continue), so the repository tells the
 * aggregate through `markCommitted(streamVersion)`; without a repository it is the count of
 * applied events.
 *
 * Hazards:
 * - `evolve` runs for history too: never throw there and never call `apply` from it.
 * - `initialState` runs lazily, on first access to `state`, not in the constructor (subclass
 *   fields are not initialised yet while a base constructor runs).
 */
export abstract class AggregateRoot<State, Event extends DomainEvent = DomainEvent> {
  private current: { state: State } | undefined;
  private appliedVersion = 0;
  private pending: Event[] = [];

  constructor(readonly id: string) {}

  /** State of an aggregate with no events. */
  protected abstract initialState(): State;
  /** The state after `event`. Return a new state; do not mutate the old one. */
  protected abstract evolve(state: State, event: Event): State;

  get state(): State {
    this.current ??= { state: this.initialState() };
    return this.current.state;
  }

  /** The stream version after every applied event, uncommitted ones included. */
  get version(): number {
    return this.appliedVersion;
  }

  /** Stream version the aggregate was loaded at (or last committed at). */
  get persistedVersion(): number {
    return this.appliedVersion - this.pending.length;
  }

  /** Events applied since load or the last `markCommitted`, in order. */
  get uncommittedEvents(): readonly Event[] {
    return this.pending;
  }

  /** Records `event` as uncommitted and evolves the state. */
  protected apply(event: Event): void {
    this.current = { state: this.evolve(this.state, event) };
    this.pending.push(event);
    this.appliedVersion++;
  }

  /**
   * Replays stored events (version order) on top of the current state.
   * @throws Error when there are uncommitted events: history would be interleaved with them
   */
  loadFromHistory(events: Iterable<Event>): void {
    this.assertClean('loadFromHistory');
    for (const event of events) {
      this.current = { state: this.evolve(this.state, event) };
      this.appliedVersion++;
    }
  }

  /**
   * Clears the uncommitted events after a successful save. `streamVersion`: the stream's version
   * now, as the store answered (at a load too: everything applied is in the stream); the
   * repositories pass it, since it can exceed the events applied (see the class comment).
   */
  markCommitted(streamVersion?: number): void {
    this.pending = [];
    if (streamVersion !== undefined) this.appliedVersion = streamVersion;
  }

  /**
   * The state to snapshot. Default: the state itself (the snapshot store serializes it, so it
   * must be JSON-compatible with the default serializer). Override to snapshot a different shape.
   */
  snapshotState(): unknown {
    return this.state;
  }

  /**
   * Restores from a snapshot taken at stream `version`. Override together with `snapshotState`
   * when the snapshot shape differs from the state.
   * @throws Error when there are uncommitted events
   */
  restoreSnapshot(snapshot: unknown, version: number): void {
    this.assertClean('restoreSnapshot');
    this.current = { state: this.stateFromSnapshot(snapshot) };
    this.appliedVersion = version;
  }

  /** Turns a snapshot (as returned by `snapshotState`, after a serialization round trip) back into state. */
  protected stateFromSnapshot(snapshot: unknown): State {
    return snapshot as State;
  }

  private assertClean(operation: string): void {
    if (this.pending.length > 0) {
      throw new Error(
        `${operation} on aggregate ${this.id} with ${this.pending.length} uncommitted events`,
      );
    }
  }
}
