import {
  type CheckpointStore,
  type EventStore,
  type ReadAllPage,
  type StoredEvent,
} from '@causeway/cqrs-core';
import { TRAINER_LEFT_GROUP_EVENT } from '@causeway/contracts';
import { PROJECTED_EVENTS, type ReadModelsProjector } from './read-models.projector';

export interface ReadModelsCatchUpOptions {
  eventStore: EventStore;
  checkpoints: CheckpointStore;
  projector: ReadModelsProjector;
  name: string;
  batchSize?: number;
  /**
   * Runs that may fail on one event the store cannot decode (its checksum, its schema, an
   * upcaster) before the catch-up gives up on it and goes on after it: the read models then
   * lack that event (the bus dead-lettered its live delivery). Default 5.
   */
  maxAttempts?: number;
  /** Told of each event given up on. Default: nothing. */
  onSkipped?: (skipped: SkippedEvent, error: unknown) => void;
  /** Told after each page a run applied and checkpointed (see CatchUpProgress). Default: nothing. */
  onProgress?: (progress: CatchUpProgress) => void;
  /**
   * Told when a run finds the checkpoint gone back below what this instance saved (the read
   * models were lost with it), or another instance's rebuild mark (`rebuildElsewhere`): the run
   * rebuilds them from there. Default: nothing.
   */
  onLost?: (lost: LostCheckpoint) => void;
}

/**
 * A checkpoint that went back: the store lost it, and the read models that live with it. Or
 * (`rebuildElsewhere`) the rebuild mark of another instance found: the read models were lost and
 * that instance's rebuild of them is unfinished, though the checkpoint it saved is not below
 * this instance's (session 37).
 */
export interface LostCheckpoint {
  /** What this instance had saved (or loaded) last. */
  saved: number;
  /** What the store holds now (0: nothing). */
  found: number;
  /** True when noticed by another instance's rebuild mark, not by the checkpoint going back. */
  rebuildElsewhere?: boolean;
}

/** How far a catch-up run has come: told after each page it checkpointed. */
export interface CatchUpProgress {
  /** Events read (and applied) by this run so far. */
  events: number;
  /** The checkpoint the run saved: the global log position it has reached. */
  position: number;
  /**
   * Which run of this catch-up the report is of (1, 2, … in the order they began): a new number
   * is a new run, also after one that failed or was stopped part-way without a last report.
   */
  run: number;
  /**
   * When the run began (epoch ms, Date.now), before it loaded its checkpoint and read its first
   * page: a duration or rate counted from the first report would leave that page's read out
   * (seconds on FerretDB, ADR 006).
   */
  startedAt: number;
  /**
   * Whether the run rebuilds the read models (no checkpoint, or one that went back). A run from
   * no checkpoint over an empty log (no event at all: a new deployment) is none.
   */
  rebuilding: boolean;
  /** Whether the page reached the end of the log (the run's last report). */
  caughtUp: boolean;
}

/** An event the catch-up gave up on: where it lies in the log. */
export interface SkippedEvent {
  position: number;
  streamId?: string;
  version?: number;
}

/**
 * Brings the read models up to the event store: reads the events after its checkpoint in global
 * order (readAll, relying on the store's no-skip guarantee), applies them, and saves the
 * checkpoint after each batch. It does not notify by itself: `onEvent` hears about every event it
 * reads, in order (the runner notifies from there). A checkpoint that went back (the store holding it and
 * the read models lost them, e.g. a flushed Redis) makes it rebuild the read models from there.
 *
 * An event the store cannot decode fails the run (so a fix deployed meanwhile, an upcaster or a
 * registered schema, still gets it); the events before it are applied first. After
 * `maxAttempts` runs failed on it, the catch-up gives up on it: one bad event must not stop the
 * read models, and the live path behind them, for good.
 */
export class ReadModelsCatchUp {
  /** The checkpoint as this instance last loaded or saved it. */
  private saved = 0;
  /** The event runs failed on, and how many. */
  private failing: { position: number; attempts: number } | undefined;
  /**
   * A rebuild began and no run has caught up since: the runs after one that failed (or was
   * stopped) part-way go on rebuilding, from the checkpoint it saved, with the rebuild's notify
   * horizon — the log that saw those events was lost with the read models. So do those of the
   * next process, when this one died part-way (the mark).
   */
  private rebuildUnfinished = false;
  /**
   * Whether this process read the rebuild mark (`<name>.rebuilding` in the checkpoint store):
   * a rebuild a previous incarnation began and did not finish is finished as one (session 35),
   * not taken for an ordinary run from its checkpoint (which would notify up to a day of old
   * moves, and replay joins before their leaves). Every later run reads it too (session 37):
   * another instance over the same Redis may have begun a rebuild since (see `adoptRebuild`).
   */
  private markRead = false;
  /** The mark is saved for the rebuild under way (cleared with it, and by a loss). */
  private marked = false;
  /** How many runs began (the current run's number, see CatchUpProgress.run). */
  private runs = 0;

  constructor(private readonly options: ReadModelsCatchUpOptions) {}

  /** The checkpoint name of the rebuild mark: 1 while a rebuild is unfinished, else 0. */
  private get mark(): string {
    return `${this.options.name}.rebuilding`;
  }

  /**
   * Applies everything after the checkpoint, up to the first page that reaches the end of the
   * log (events appended meanwhile wait for the next run); returns how many events were read.
   * `onEvent` is awaited for each event read, after it was applied, with whether it changed a
   * read model (false: applied before, or not projected) and whether the run is a rebuild (it
   * started from no checkpoint, or from one that went back; see CatchUpProgress.rebuilding);
   * it failing fails the run, and the batch is read again next run (the checkpoint is saved
   * after the batch). A failure to apply or notify an event rejects with an error naming it
   * (type, position, stream, version), the original as its `cause`.
   *
   * `signal` stops it (shutdown): a read in flight is not waited for and its events are
   * discarded, nothing is applied once it is aborted (an apply in progress finishes), and the
   * checkpoint is saved only up to the last event applied.
   */
  async run(
    onEvent?: (event: StoredEvent, applied: boolean, rebuilding: boolean) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<number> {
    const { checkpoints, projector, name } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    let total = 0;
    const run = ++this.runs;
    const startedAt = Date.now();
    // A run from no checkpoint, or from one that went back, rebuilds the read models from
    // history: what it reads may have been notified long ago, by a log since lost with them.
    // So does a run after one that began a rebuild and did not finish it.
    if (!this.marked && (await checkpoints.load(this.mark)) > 0) await this.adoptRebuild();
    this.markRead = true;
    let rebuilding = this.rebuildUnfinished;
    // The run rebuilds only for want of a checkpoint (no loss seen, no rebuild unfinished): it
    // marks the rebuild with its first checkpoint, and an empty log is no rebuild (see below).
    let fromNothing = false;
    // Whether this rebuild applied the leaves ahead (see applyLeavesFirst).
    let leavesFirst = false;
    for (;;) {
      if (signal?.aborted) return total;
      const from = await checkpoints.load(name);
      if (total === 0 && from === 0 && !rebuilding) rebuilding = fromNothing = true;
      if (from < this.saved) {
        rebuilding = true;
        fromNothing = false;
        leavesFirst = false;
        this.options.onLost?.({ saved: this.saved, found: from });
        // The checkpoint went back: the store lost it, and the read models with it (they live
        // together). What the projector remembers applying is gone too: rebuild everything.
        projector.forget();
        // The mark went with them.
        this.marked = false;
      }
      this.saved = from;
      if (rebuilding) {
        this.rebuildUnfinished = true;
        // Before the rebuild saves a checkpoint: a restart after it still finds the mark. Now,
        // before it reads, when the read models were lost: another instance that saved past the
        // checkpoint found sees the loss by the mark alone (session 37). A run from no checkpoint
        // saves it with its first checkpoint (saveUnlessLost): an instance that saved one sees
        // that checkpoint gone back until then, and on an empty log, with nothing to rebuild,
        // its mark (set and reset at every periodic run) was another instance's "unfinished
        // rebuild": a false loss, its live events deferred (session 45).
        if (!this.marked && !fromNothing) await this.markRebuild();
      }
      if (rebuilding && !leavesFirst) {
        await this.applyLeavesFirst(from, batchSize, signal);
        if (signal?.aborted) return total;
        leavesFirst = true;
      }
      // On FerretDB a read scans the whole collection (ADR 006): seconds on a large store.
      const read = await untilAborted(this.readPage(from, batchSize, signal), signal);
      if (!read) return total;
      const { page, skipped } = read;
      // Nothing in the log at all: nothing to rebuild, nor to report as rebuilt ("rebuilt the
      // read models from the event store: 0 events" every 30 s, on a new deployment).
      if (fromNothing && total === 0 && page.events.length === 0 && page.position === 0)
        rebuilding = this.rebuildUnfinished = false;
      let applied = from;
      for (const event of page.events) {
        if (signal?.aborted) {
          if (applied > from) await this.saveUnlessLost(from, applied);
          return total;
        }
        const changed = await named('applying', event, () => projector.apply(event));
        await named('notifying', event, () => onEvent?.(event, changed, rebuilding));
        applied = event.position;
        total++;
      }
      // The page's checkpoint, not its last event's position: it moves past the events of
      // other types (notifications, …), which the next run then does not read again.
      if (page.position > from && !(await this.saveUnlessLost(from, page.position))) continue;
      this.options.onProgress?.({
        events: total,
        position: Math.max(from, page.position),
        run,
        startedAt,
        rebuilding,
        caughtUp: page.caughtUp,
      });
      if (skipped) {
        // Told once its position is saved: the catch-up has gone past it for good.
        this.failing = undefined;
        const { streamId, version } = skipped as Partial<StoredEvent>;
        this.options.onSkipped?.({ position: page.position, streamId, version }, skipped);
      }
      // The page reached the end of the log: caught up. (Reading on until a read finds nothing
      // would, under a steady load, never end: each read finds the few events appended during
      // the previous one.)
      if (page.caughtUp) {
        if (this.marked) {
          await checkpoints.reset(this.mark);
          this.marked = false;
        }
        this.rebuildUnfinished = false;
        return total;
      }
    }
  }

  /**
   * The mark is set and this instance did not set it: a rebuild is unfinished, and this run
   * finishes it, from the checkpoint saved so far. At a process's first run, a previous
   * incarnation's (session 35). Later, another instance's (session 37): the read models were
   * lost, and that instance's rebuild saved a checkpoint at or past this one's, so this instance
   * did not see the checkpoint go back. What its projector remembers applying is gone from the
   * read models beyond that checkpoint: trusted, this run would skip those events without
   * writing them and save its checkpoint past them, and the other instance's rebuild (or its
   * next incarnation) would resume from there — those rows lost for good. So it forgets them and
   * tells `onLost` (the runner defers live events until this run has caught up).
   */
  private async adoptRebuild(): Promise<void> {
    const elsewhere = this.markRead && !this.rebuildUnfinished;
    this.rebuildUnfinished = this.marked = true;
    if (!elsewhere) return;
    this.options.projector.forget();
    const found = await this.options.checkpoints.load(this.options.name);
    this.options.onLost?.({ saved: this.saved, found, rebuildElsewhere: true });
  }

  /**
   * A rebuild replays history into the read models readers use: a trainer who joined a group
   * and later left it would be a member again from the replay of its join until that of its
   * leave (minutes on FerretDB), sent the group's moves and shown its members (a review, session
   * 32). So a rebuild first applies every leave after `from`: GroupMembers then refuses each
   * older join of that trainer and group (versions), and a former member is never one again.
   * A current member is missing until its join is replayed: degraded, never leaked. Best
   * effort: when reading the leaves fails (an event that cannot be decoded, the store away), the
   * rebuild goes on without, as before.
   */
  private async applyLeavesFirst(from: number, limit: number, signal?: AbortSignal) {
    let position = from;
    try {
      for (;;) {
        // A shutdown does not wait for the read (as the replay's reads).
        const page = await untilAborted(
          this.options.eventStore.readAllPage({
            fromPosition: position,
            types: [TRAINER_LEFT_GROUP_EVENT],
            limit,
          }),
          signal,
        );
        if (!page) return;
        for (const event of page.events) {
          if (signal?.aborted) return;
          await this.options.projector.apply(event);
        }
        if (page.caughtUp || page.position <= position) return;
        position = page.position;
      }
    } catch {
      // The replay that follows reads the same events, with its own handling of failures.
    }
  }

  /** Saves the rebuild mark: a rebuild is under way (see `mark`). */
  private async markRebuild(): Promise<void> {
    await this.options.checkpoints.save(this.mark, 1);
    this.marked = true;
  }

  /**
   * Saves `position` unless the store lost the checkpoint since this run loaded `from` (a Redis
   * back empty while a page was read: seconds on FerretDB): saving then would hide the loss from
   * the next load. The run's next iteration sees the checkpoint gone back and rebuilds. (A loss
   * between this load and the save, one round trip, is not seen.) False when it did not save.
   */
  private async saveUnlessLost(from: number, position: number): Promise<boolean> {
    const { checkpoints, name } = this.options;
    if ((await checkpoints.load(name)) < from) return false;
    // A rebuild from no checkpoint marks itself here, before its first checkpoint (see run).
    if (this.rebuildUnfinished && !this.marked) await this.markRebuild();
    await checkpoints.save(name, position);
    // Only once saved: `lost()` must never expect a checkpoint the store has not been given yet.
    this.saved = position;
    return true;
  }

  /**
   * The checkpoint gone back below what this instance saved or loaded last (one load: an HGET on
   * Redis): the store lost it, and the read models with it (a FLUSHALL, a Redis back empty).
   * Or, with `rebuildElsewhere` (session 37), the rebuild mark set by another instance (its
   * rebuild is unfinished), read at the same time (a second HGET, sent with the first).
   * Undefined when neither, when nothing was saved yet (a loss before the first checkpoint
   * is not seen), or when a run found the loss first (it rebuilds already). A loss that leaves
   * the checkpoint (some keys only) is not seen; neither is one a run's save hides (see
   * saveUnlessLost).
   */
  async lost(): Promise<LostCheckpoint | undefined> {
    const saved = this.saved;
    if (saved === 0) return undefined;
    const { checkpoints, name } = this.options;
    // Both reads at once (one round trip on one connection): the mark only while this instance
    // is not rebuilding itself (then the live path is deferred anyway).
    const [found, mark] = await Promise.all([
      checkpoints.load(name),
      this.marked ? 0 : checkpoints.load(this.mark),
    ]);
    if (found < saved && this.saved >= saved) return { saved, found };
    // Another instance's rebuild is unfinished: the read models lack what it has not replayed
    // yet (a move addressed from them would miss members). The run this starts adopts it.
    if (mark > 0 && !this.marked) return { saved, found, rebuildElsewhere: true };
    return undefined;
  }

  /**
   * A page after `from`. When an event of it cannot be decoded, the page of the events before
   * it; when it is the first, the run fails, or, once `maxAttempts` runs failed on it, an
   * empty page past it with the error as `skipped`.
   */
  private async readPage(
    from: number,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ page: ReadAllPage; skipped?: unknown }> {
    const read = (limit: number) =>
      this.options.eventStore.readAllPage({ fromPosition: from, types: PROJECTED_EVENTS, limit });
    try {
      return { page: await read(limit) };
    } catch (error) {
      const at = failingPosition(error, from);
      if (at === undefined) throw error;
      // The largest page that stops before it: halving the limit, the first read tried is of one
      // event (it is the failing one again when a run already applied the events before it).
      let [readable, unreadable] = [0, limit];
      let before: ReadAllPage | undefined;
      for (let size = 1; unreadable - readable > 1; size = (readable + unreadable) >> 1) {
        if (signal?.aborted) throw error;
        try {
          before = await read(size);
          readable = size;
        } catch (again) {
          if (failingPosition(again, from) !== at) throw again;
          unreadable = size;
        }
      }
      if (before && before.events.length > 0) return { page: { ...before, caughtUp: false } };
      const failed = this.failing?.position === at ? this.failing.attempts : 0;
      // `maxAttempts` runs have failed on it already: this one goes past it.
      if (failed >= (this.options.maxAttempts ?? 5))
        return { page: { events: [], position: at, caughtUp: false }, skipped: error };
      this.failing = { position: at, attempts: failed + 1 };
      throw error;
    }
  }
}

/**
 * `step`'s result; its failure as an error naming the event (type, position, stream, version),
 * the original as `cause`: "catch-up failed: connection is closed", retried every run, left an
 * operator no way to find the event a run is stuck on.
 */
async function named<T>(
  what: 'applying' | 'notifying',
  event: StoredEvent,
  step: () => Promise<T> | T,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `${what} ${event.type} at position ${event.position} (stream ${event.streamId}, ` +
        `version ${event.version}) failed: ${message}`,
      { cause: error },
    );
  }
}

/** The position of the event a read failed on, when the store named one after `from`. */
function failingPosition(error: unknown, from: number): number | undefined {
  const position = (error as Partial<StoredEvent> | undefined)?.position;
  return typeof position === 'number' && position > from ? position : undefined;
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
