import { type CheckpointStore, type EventStore, type StoredEvent } from '@causeway/cqrs-core';
import { PROJECTED_EVENTS, type ReadModelsProjector } from './read-models.projector';

export interface ReadModelsCatchUpOptions {
  eventStore: EventStore;
  checkpoints: CheckpointStore;
  projector: ReadModelsProjector;
  name: string;
  batchSize?: number;
}

/**
 * Brings the read models up to the event store: reads the events after its checkpoint in global
 * order (readAll, relying on the store's no-skip guarantee), applies them, and saves the
 * checkpoint after each batch. It does not notify by itself: `onEvent` hears about every event it
 * reads, in order (the runner notifies from there). A checkpoint that went back (the store holding it and
 * the read models lost them, e.g. a flushed Redis) makes it rebuild the read models from there.
 */
export class ReadModelsCatchUp {
  /** The checkpoint as this instance last loaded or saved it. */
  private saved = 0;

  constructor(private readonly options: ReadModelsCatchUpOptions) {}

  /**
   * Applies everything after the checkpoint, up to the first page that reaches the end of the
   * log (events appended meanwhile wait for the next run); returns how many events were read.
   * `onEvent` is awaited for each event read, after it was applied, with whether it changed a
   * read model (false: applied before, or not projected) and whether the run is a rebuild (it
   * started from no checkpoint, or from one that went back); it failing fails the run, and the
   * batch is read again next run (the checkpoint is saved after the batch).
   *
   * `signal` stops it (shutdown): a read in flight is not waited for and its events are
   * discarded, nothing is applied once it is aborted (an apply in progress finishes), and the
   * checkpoint is saved only up to the last event applied.
   */
  async run(
    onEvent?: (event: StoredEvent, applied: boolean, rebuilding: boolean) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<number> {
    const { eventStore, checkpoints, projector, name } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    let total = 0;
    // A run from no checkpoint, or from one that went back, rebuilds the read models from
    // history: what it reads may have been notified long ago, by a log since lost with them.
    let rebuilding = false;
    for (;;) {
      if (signal?.aborted) return total;
      const from = await checkpoints.load(name);
      if (total === 0 && from === 0) rebuilding = true;
      if (from < this.saved) {
        rebuilding = true;
        // The checkpoint went back: the store lost it, and the read models with it (they live
        // together). What the projector remembers applying is gone too: rebuild everything.
        projector.forget();
      }
      this.saved = from;
      // On FerretDB a read scans the whole collection (ADR 006): seconds on a large store.
      const page = await untilAborted(
        eventStore.readAllPage({ fromPosition: from, types: PROJECTED_EVENTS, limit: batchSize }),
        signal,
      );
      if (!page) return total;
      let applied = from;
      for (const event of page.events) {
        if (signal?.aborted) {
          if (applied > from) await checkpoints.save(name, (this.saved = applied));
          return total;
        }
        const changed = await projector.apply(event);
        await onEvent?.(event, changed, rebuilding);
        applied = event.position;
        total++;
      }
      // The page's checkpoint, not its last event's position: it moves past the events of
      // other types (notifications, …), which the next run then does not read again.
      if (page.position > from) await checkpoints.save(name, (this.saved = page.position));
      // The page reached the end of the log: caught up. (Reading on until a read finds nothing
      // would, under a steady load, never end: each read finds the few events appended during
      // the previous one.)
      if (page.caughtUp) return total;
    }
  }
}

/** `read`'s result, or undefined as soon as `signal` aborts (the read's result is then discarded). */
function untilAborted<T>(
  read: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  if (!signal) return read;
  if (signal.aborted) {
    read.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    read.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(signal.aborted ? undefined : value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve(undefined);
        else reject(error);
      },
    );
  });
}
