import { type mongo } from 'mongoose';
import { type CommitDocument } from './mongodb.event-store.documents';

/** After this many lost races for a slot in a row, read the highest slot instead of walking. */
const REFRESH_AFTER_MISSES = 16;
/** After this many refusals we could not explain, ask whether the version is taken. */
const PROBE_AFTER_UNRESOLVED = 8;

export type CommitOutcome = { kind: 'inserted'; slot: number } | { kind: 'version-taken' };

export function isDuplicateKey(error: unknown): error is mongo.MongoServerError {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000
  );
}

/**
 * Claims slots of the global log by inserting commit documents with `_id` = slot.
 *
 * Invariant (the no-skip guarantee, docs/adr/003): an insert at slot s only succeeds when slot
 * s - 1 is already taken. Commit documents are never deleted. So when a slot becomes visible
 * every lower slot is visible already: the taken slots are always a prefix 1..M, and a reader
 * resuming after the last slot it saw cannot miss one. No counter, no transaction, no timeout:
 * only inserts against unique indexes, which FerretDB and MongoDB both make atomic (FerretDB
 * 1.x loses concurrent `$inc`s, so a counter document would not do).
 *
 * How the invariant is kept: `nextSlot` only moves past slots known to be taken (our own
 * inserts, duplicate-key errors that name `_id`, the beacon, the highest slot read). MongoDB
 * names the refused index; FerretDB does not, so a refusal there may mean "slot taken" or
 * "version taken". If the beacon does not settle it, we try the next slot with the same
 * version: versions are never freed, so if that insert succeeds the version was free all along
 * and every refusal before it was a taken slot. If refusals go on, we read whether the version
 * is taken.
 */
export class MongoCommitLog {
  private nextSlot = 1;

  constructor(
    private readonly commits: mongo.Collection<CommitDocument>,
    /** Holds the beacon: a recently taken slot, so that writers start near the end of the log. */
    private readonly meta: mongo.Collection<BeaconDocument>,
  ) {}

  /** Reads the highest slot taken. A full scan on FerretDB; called at start-up and when far behind. */
  async refresh(): Promise<void> {
    const [top] = await this.commits
      .find({}, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    this.taken(top?._id ?? 0);
  }

  /**
   * Inserts the commit at the next free slot. Resolves 'version-taken' when (streamId,
   * firstVersion) already exists: another append got there first.
   */
  async insert(commit: Omit<CommitDocument, '_id'>): Promise<CommitOutcome> {
    await this.readBeacon();
    let slot = this.nextSlot;
    let unresolved = 0;
    let misses = 0;
    for (;;) {
      try {
        await this.commits.insertOne({ ...commit, _id: slot });
        this.taken(slot);
        await this.raiseBeacon(slot);
        return { kind: 'inserted', slot };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        let refused = refusedIndex(error);
        // FerretDB does not say: a beacon at or past the slot proves the slot was taken.
        if (refused === undefined && (await this.readBeacon()) >= slot) refused = 'slot';
        if (refused === 'version') return { kind: 'version-taken' };
        if (refused === 'slot') {
          this.taken(slot);
          if (++misses % REFRESH_AFTER_MISSES === 0) await this.refresh();
          slot = this.nextSlot;
          // Writers that lost a race all aim at the same next slot: spread them out.
          await backoff(misses);
        } else if (++unresolved % PROBE_AFTER_UNRESOLVED !== 0) {
          slot += 1;
        } else {
          const version = await this.commits.findOne(
            { streamId: commit.streamId, firstVersion: commit.firstVersion },
            { projection: { _id: 1 } },
          );
          if (version) return { kind: 'version-taken' };
          // The version is free, so every refusal so far was a taken slot; we are behind.
          this.taken(slot);
          await this.refresh();
          slot = this.nextSlot;
        }
      }
    }
  }

  private taken(slot: number): void {
    this.nextSlot = Math.max(this.nextSlot, slot + 1);
  }

  /** Returns the beacon's slot (0 when none) and notes it as taken: it is only ever raised after an insert. */
  private async readBeacon(): Promise<number> {
    const slot = (await this.meta.findOne({ _id: BEACON_ID }))?.slot ?? 0;
    this.taken(slot);
    return slot;
  }

  /**
   * A hint, not a source of truth: on FerretDB concurrent `$max` updates can be lost, so the
   * beacon may lag; it only ever names a slot that was taken, which is all the claim needs.
   */
  private async raiseBeacon(slot: number): Promise<void> {
    try {
      await this.meta.updateOne({ _id: BEACON_ID }, { $max: { slot } }, { upsert: true });
    } catch (error) {
      // Two first upserts raced; the other one created the beacon.
      if (!isDuplicateKey(error)) throw error;
    }
  }
}

const BEACON_ID = 'log';

/** Random pause after the n-th lost race in a row: up to 1, 2, 4 … 32 ms. */
function backoff(misses: number): Promise<void> {
  const ceiling = Math.min(32, 2 ** Math.min(misses - 1, 5));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export interface BeaconDocument {
  _id: string;
  slot: number;
}

/** MongoDB names the refused index in `keyPattern`; FerretDB does not. */
function refusedIndex(error: mongo.MongoServerError): 'slot' | 'version' | undefined {
  const pattern = (error as { keyPattern?: Record<string, unknown> }).keyPattern;
  if (!pattern) return undefined;
  if ('streamId' in pattern) return 'version';
  if ('_id' in pattern) return 'slot';
  return undefined;
}
