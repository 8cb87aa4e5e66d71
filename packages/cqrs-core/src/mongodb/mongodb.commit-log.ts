import { randomUUID } from 'node:crypto';
import { type mongo } from 'mongoose';
import { type CommitDocument } from './mongodb.event-store.documents';

/** After this many lost races for a slot in a row, jump towards the end of the log (catchUp). */
const REFRESH_AFTER_MISSES = 16;
/** After this many refusals we could not explain, ask whether the version is taken. */
const PROBE_AFTER_UNRESOLVED = 8;
/** The least time between two beacon updates of one instance … */
const BEACON_INTERVAL_MS = 10;
/** … and with a slot hint, which answers most questions the beacon would (see readBeacon). */
const BEACON_INTERVAL_WITH_HINT_MS = 250;
/** A writer holds the turn (SlotHint.take) at most this long, in case it dies holding it … */
const TURN_TTL_MS = 2_000;
/** … and another one waits this long for it at most before inserting without it. */
const TURN_WAIT_MS = 100;
/** A group commit holds at most this many commits … */
const MAX_GROUP_COMMITS = 64;
/** … and this many events (a single commit may hold more: it then goes alone). */
const MAX_GROUP_EVENTS = 2000;

interface PendingCommit {
  commit: Omit<CommitDocument, '_id'>;
  resolve: (outcome: CommitOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * A fast, shared hint of the highest slot taken, e.g. in Redis (`RedisSlotHint`), for writers in
 * several processes. Like the beacon it may only ever name a slot that was taken: `raise` is
 * called after a successful insert. `read` before an insert lets a writer skip the slots the
 * other processes took since its last insert instead of being refused on each of them. `log`
 * names the log (database, collection prefix and the log's epoch, which changes when the
 * database is dropped and created again, so a hint never outlives its log).
 */
export interface SlotHint {
  /** The highest slot known taken in `log`; 0 when unknown. */
  read(log: string): Promise<number>;
  /** Slot `slot` of `log` is taken; keeps the maximum. Failures are the caller's to ignore. */
  raise(log: string, slot: number): Promise<void>;
  /**
   * Optional turns between writer processes: `take` makes `holder` the one writer whose turn it
   * is to insert into `log`, for at most `ttlMs`, and resolves the hint's slot; it resolves
   * undefined (taking nothing) while another holder has the turn. `pass` raises the hint to
   * `slot` and ends the turn if `holder` still has it. Advisory: the unique indexes still decide
   * every insert, so a lost or expired turn costs refused inserts, never a wrong slot. Without
   * turns, writers of several processes aim at the same next slot and all but one are refused
   * (at 200 appends/s from two processes on FerretDB that capped them at ~160/s).
   */
  take?(log: string, holder: string, ttlMs: number): Promise<number | undefined>;
  pass?(log: string, holder: string, slot: number): Promise<void>;
}

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
  /**
   * A slot known to follow a taken one: every slot below it is taken. Only moves up, except in
   * a resync after an insert whose outcome is unknown.
   */
  private nextSlot = 1;
  /**
   * An insert failed without a duplicate-key answer (a lost connection, a failover): what we
   * knew may have been rolled back, so the next insert first reads the log's end (resync).
   */
  private stale = false;
  /** Commits waiting for their turn, and whether a drain loop is running (see `insert`). */
  private readonly pending: PendingCommit[] = [];
  private draining = false;
  /** The highest slot we asked the beacon to hold, and whether an update is in flight. */
  private beaconTarget = 0;
  private beaconRaised = 0;
  private beaconBusy = false;

  /** The highest slot raised in the hint, and whether a raise is in flight. */
  private hintRaised = 0;
  private hintTarget = 0;
  private hintBusy = false;
  /** This writer in the hint's turns, and whether it has the turn now. */
  private readonly holder = randomUUID();
  private turn = false;

  constructor(
    private readonly commits: mongo.Collection<CommitDocument>,
    /** Holds the beacon: a recently taken slot, so that writers start near the end of the log. */
    private readonly meta: mongo.Collection<BeaconDocument>,
    /** Optional shared hint (see SlotHint) and the name of this log in it. */
    private readonly hint?: { store: SlotHint; log: string },
  ) {}

  /**
   * A slot known to be taken, from the beacon (0 when there is none yet), for readers: the
   * taken slots are a prefix, so every slot up to it is visible, and a reader may move its
   * checkpoint past it. It lags the end of the log by what was inserted since the beacon's last
   * update (BEACON_INTERVAL_MS, or longer when FerretDB lost an update, until the next insert);
   * it never leads it. One lookup by string `_id`, cheap on FerretDB too, unlike reading the
   * highest slot (refresh).
   */
  async takenPrefix(): Promise<number> {
    return (await this.meta.findOne({ _id: BEACON_ID }))?.slot ?? 0;
  }

  /** Reads the highest slot taken. A full scan on FerretDB; called at start-up and when far behind. */
  async refresh(): Promise<void> {
    this.taken(await this.highestSlot());
  }

  /** The highest slot taken (0 when none), read from the commits. A full scan on FerretDB. */
  async highestSlot(): Promise<number> {
    const [top] = await this.commits
      .find({}, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    return top?._id ?? 0;
  }

  /**
   * Inserts the commit at the next free slot. Resolves 'version-taken' when (streamId,
   * firstVersion) already exists: another append got there first.
   *
   * Concurrent calls on one instance do not race each other for a slot (all but one would
   * lose). They queue, and whatever queued while an insert was in flight goes out as one group
   * commit: an ordered `insertMany` of consecutive slots. Ordered means the server inserts the
   * documents one after the other and stops at the first refusal, so slot s + i is only ever
   * inserted after s + i - 1 (FerretDB even inserts the whole group in one SQLite transaction
   * when nothing is refused). The invariant holds for every document of the group. Writers in
   * other processes (or other instances) still race for slots; `claim` handles that.
   */
  insert(commit: Omit<CommitDocument, '_id'>): Promise<CommitOutcome> {
    return new Promise<CommitOutcome>((resolve, reject) => {
      this.pending.push({ commit, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending.length > 0) {
        // The group is taken once it is our turn: what queued while we waited goes along.
        await this.takeTurn();
        try {
          const group = this.takeGroup();
          if (group.length === 1) await this.settle(group[0]!, () => this.claim(group[0]!.commit));
          else await this.insertGroup(group);
        } finally {
          await this.passTurn();
        }
      }
    } catch (error) {
      // Not expected (every outcome is settled above); never leave an append hanging.
      for (const entry of this.pending.splice(0)) entry.reject(error);
    } finally {
      this.draining = false;
    }
  }

  /** The next commits of the queue, as many as fit MAX_GROUP_COMMITS and MAX_GROUP_EVENTS. */
  private takeGroup(): PendingCommit[] {
    let count = 0;
    let events = 0;
    while (count < this.pending.length && count < MAX_GROUP_COMMITS) {
      events += this.pending[count]!.commit.events.length;
      if (count > 0 && events > MAX_GROUP_EVENTS) break;
      count += 1;
    }
    return this.pending.splice(0, count);
  }

  private async insertGroup(group: PendingCommit[]): Promise<void> {
    await this.resync();
    // Taking the turn read the hint; passing it raises the hint.
    if (!this.turn) await this.readHint();
    const first = this.nextSlot;
    let inserted = 0;
    let failure: unknown;
    try {
      await this.commits.insertMany(
        group.map(({ commit }, i) => ({ ...commit, _id: first + i })),
        { ordered: true },
      );
      inserted = group.length;
    } catch (error) {
      failure = error;
      // Ordered: the documents before the first refused one are in, none after it was tried.
      const index = (error as { writeErrors?: Array<{ index?: unknown }> }).writeErrors?.[0]?.index;
      if (typeof index === 'number') inserted = index;
      else inserted = -1;
      if (!isDuplicateKey(error) && !hasDuplicateKeyWriteError(error)) this.stale = true;
    }
    if (inserted < 0) {
      // No per-document answer: the driver refused the group before sending it (a document over
      // the size limit, say) or the outcome is unknown (a lost connection). `nextSlot` did not
      // move, so claim them one by one as if they had never been grouped: each then fails or
      // succeeds on its own. One that did go in is refused by its (streamId, firstVersion), and
      // the store's re-read finds it as an idempotent re-append.
      for (const entry of group) await this.settle(entry, () => this.claim(entry.commit));
      return;
    }
    if (inserted > 0) {
      this.taken(first + inserted - 1);
      this.raiseBeacon(first + inserted - 1);
      if (!this.turn) this.raiseHint(first + inserted - 1);
    }
    for (let i = 0; i < inserted; i++) group[i]!.resolve({ kind: 'inserted', slot: first + i });
    if (inserted === group.length) return;
    // The refused one goes through the one-by-one claim, which finds out why it was refused; the
    // ones after it were not tried and go back to the head of the queue.
    const refused = group[inserted]!;
    this.pending.unshift(...group.slice(inserted + 1));
    if (isDuplicateKey(failure) || hasDuplicateKeyWriteError(failure))
      await this.settle(refused, () => this.claim(refused.commit));
    else refused.reject(failure);
  }

  private async settle(entry: PendingCommit, run: () => Promise<CommitOutcome>): Promise<void> {
    try {
      entry.resolve(await run());
    } catch (error) {
      entry.reject(error);
    }
  }

  /**
   * After an insert with an unknown outcome, sets `nextSlot` from the highest slot the log holds
   * (read with the collection's majority read concern), lower than before if need be. On a
   * replica set a failover rolls back what a majority had not acknowledged — possibly the slot
   * a duplicate-key error told us was taken — and inserting past a rolled-back slot would open a
   * hole that a reader skips. A full scan on FerretDB, after a failure only.
   */
  private async resync(): Promise<void> {
    if (!this.stale) return;
    const [top] = await this.commits
      .find({}, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    this.nextSlot = (top?._id ?? 0) + 1;
    this.stale = false;
  }

  private async claim(commit: Omit<CommitDocument, '_id'>): Promise<CommitOutcome> {
    await this.resync();
    // The first try goes to our own guess of the next slot (moved past the hint's, if any): it is
    // only ever past slots known to be taken, so a success there keeps the invariant; when other
    // writers moved the log on, the insert is refused and we catch up below.
    if (!this.turn) await this.readHint();
    let slot = this.nextSlot;
    let unresolved = 0;
    let misses = 0;
    let beaconRead = false;
    for (;;) {
      try {
        await this.commits.insertOne({ ...commit, _id: slot });
        this.taken(slot);
        this.raiseBeacon(slot);
        if (!this.turn) this.raiseHint(slot);
        return { kind: 'inserted', slot };
      } catch (error) {
        if (!isDuplicateKey(error)) {
          this.stale = true;
          throw error;
        }
        const named = refusedIndex(error);
        let refused = named;
        // FerretDB does not say which index refused: a beacon at or past the slot proves the
        // slot was taken. On MongoDB, read it once per append anyway, to jump to the end of the
        // log when other writers moved it on while we were idle.
        if (refused === undefined || (refused === 'slot' && !beaconRead)) {
          beaconRead = true;
          if ((await this.readBeacon(slot)) >= slot && refused === undefined) refused = 'slot';
        }
        if (refused === 'version') return { kind: 'version-taken' };
        if (refused === 'slot') {
          this.taken(slot);
          if (++misses % REFRESH_AFTER_MISSES === 0) await this.catchUp();
          // Lost to another process's commit (often a group of them): its hint names where the
          // log ends, for a Redis GET instead of one refused insert per slot it took. (When the
          // server did not name the index, readBeacon above has just read the hint.)
          else if (named === 'slot' && misses > 1) await this.readHint();
          slot = this.nextSlot;
          // Writers of other processes that lost a race all aim at the same next slot: spread
          // them out.
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
          await this.catchUp();
          slot = this.nextSlot;
        }
      }
    }
  }

  /**
   * Jumps towards the end of the log after many lost races or unexplained refusals. With a
   * readable hint, to the hint's slot: every lost race reads it anyway, so walking on from there
   * costs less than reading the highest slot, a full scan on FerretDB (~0.4 s at a few thousand
   * commits: at 200 appends/s each one stalled the appends queued behind it while the other
   * writers moved on). The scan only without a hint.
   */
  private async catchUp(): Promise<void> {
    if ((await this.readHint()) > 0) return;
    await this.refresh();
  }

  private taken(slot: number): void {
    this.nextSlot = Math.max(this.nextSlot, slot + 1);
  }

  /**
   * Returns the highest of the beacon's and the hint's slot (0 when none) and notes it as taken:
   * both are only ever raised after an insert. When the hint already reaches `slot` (the slot
   * is taken), the beacon is not read: a read of the store less per lost race.
   */
  private async readBeacon(slot: number): Promise<number> {
    const hinted = await this.readHint();
    if (this.hint && hinted >= slot) return hinted;
    const beacon = await this.meta.findOne({ _id: BEACON_ID }).then((doc) => doc?.slot ?? 0);
    this.taken(beacon);
    this.beaconRaised = Math.max(this.beaconRaised, beacon);
    return Math.max(beacon, hinted);
  }

  /**
   * Waits (at most TURN_WAIT_MS) for this writer's turn, when the hint has turns, and moves the
   * next-slot guess past the hint's slot that came with it. Gives up quietly: without the turn
   * the inserts only race, as they do without turns.
   */
  private async takeTurn(): Promise<void> {
    const take = this.hint?.store.take;
    if (!take) return;
    const { store, log } = this.hint!;
    const deadline = Date.now() + TURN_WAIT_MS;
    for (let wait = 1; ; wait = Math.min(4, wait * 2)) {
      let slot: number | undefined;
      try {
        slot = await take.call(store, log, this.holder, TURN_TTL_MS);
      } catch {
        return;
      }
      if (slot !== undefined) {
        this.turn = true;
        this.taken(slot);
        this.hintRaised = Math.max(this.hintRaised, slot);
        return;
      }
      if (Date.now() >= deadline) return;
      // The holder inserts one group: a few ms on FerretDB, less on MongoDB.
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Raises the hint to the last slot taken and ends the turn (failures: the TTL ends it). */
  private async passTurn(): Promise<void> {
    if (!this.turn) return;
    this.turn = false;
    const { store, log } = this.hint!;
    const slot = this.nextSlot - 1;
    try {
      await store.pass!(log, this.holder, slot);
      this.hintRaised = Math.max(this.hintRaised, slot);
    } catch {
      // The next holder's insert at a taken slot is refused and reads the beacon.
    }
  }

  /** Moves the next-slot guess past the hint's slot (no hint, or it cannot be read: 0). */
  private async readHint(): Promise<number> {
    if (!this.hint) return 0;
    let slot = 0;
    try {
      slot = await this.hint.store.read(this.hint.log);
    } catch {
      return 0; // only a hint: the insert finds out the hard way
    }
    this.taken(slot);
    this.hintRaised = Math.max(this.hintRaised, slot);
    return slot;
  }

  /**
   * Raises the hint to `slot`, not awaited: at most one raise in flight per instance, slots taken
   * meanwhile are folded into the next one (a lagging hint only costs a refused insert).
   */
  private raiseHint(slot: number): void {
    if (!this.hint) return;
    this.hintTarget = Math.max(this.hintTarget, slot);
    if (this.hintBusy || this.hintTarget <= this.hintRaised) return;
    const target = this.hintTarget;
    const { store, log } = this.hint;
    this.hintBusy = true;
    store
      .raise(log, target)
      .then(
        () => {
          this.hintRaised = Math.max(this.hintRaised, target);
        },
        () => undefined,
      )
      .finally(() => {
        this.hintBusy = false;
        if (this.hintTarget > target) this.raiseHint(this.hintTarget);
      });
  }

  /**
   * A hint, not a source of truth: on FerretDB concurrent `$max` updates can be lost, so the
   * beacon may lag; it only ever names a slot that was taken, which is all the claim needs.
   * Not awaited: appends do not wait for it. At most one update per instance is in flight, and
   * the next starts BEACON_INTERVAL_MS (with a hint BEACON_INTERVAL_WITH_HINT_MS) after it ends;
   * slots taken meanwhile are folded into it. Failures are ignored (the next raise or a refused
   * insert makes up for them).
   */
  private raiseBeacon(slot: number): void {
    this.beaconTarget = Math.max(this.beaconTarget, slot);
    if (this.beaconBusy || this.beaconTarget <= this.beaconRaised) return;
    const target = this.beaconTarget;
    this.beaconBusy = true;
    this.meta
      .updateOne({ _id: BEACON_ID }, { $max: { slot: target } }, { upsert: true })
      .then(
        () => {
          this.beaconRaised = Math.max(this.beaconRaised, target);
        },
        // Two first upserts raced (the other one created the beacon), or the connection is
        // closing: either way the beacon is only a hint.
        () => undefined,
      )
      .finally(() => {
        // Under load, at most one update per BEACON_INTERVAL_MS: on FerretDB every write takes
        // the database's one SQLite write lock, so a beacon update per insert would halve them.
        const timer = setTimeout(
          () => {
            this.beaconBusy = false;
            if (this.beaconTarget > target) this.raiseBeacon(this.beaconTarget);
          },
          this.hint ? BEACON_INTERVAL_WITH_HINT_MS : BEACON_INTERVAL_MS,
        );
        timer.unref?.();
      });
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
  /** The log's epoch (document `epoch`): a random id made when the log is first used. */
  epoch?: string;
}

const EPOCH_ID = 'epoch';

/**
 * The epoch of the log in `meta`, made on first use: a new one after the database was dropped,
 * so a SlotHint keyed by it never names slots of an earlier log. Read by string `_id` (FerretDB
 * pushes that filter down to SQLite).
 */
export async function logEpoch(meta: mongo.Collection<BeaconDocument>): Promise<string> {
  for (let refused = 0; ; refused++) {
    const found = await meta.findOne({ _id: EPOCH_ID });
    if (found?.epoch) return found.epoch;
    try {
      await meta.insertOne({ _id: EPOCH_ID, slot: 0, epoch: randomUUID() });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // another process made it first: read theirs
      // A majority read may not see their epoch yet (replication lag): wait, do not spin.
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 10 * 2 ** refused)));
    }
  }
}

function hasDuplicateKeyWriteError(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: Array<{ code?: unknown }> }).writeErrors;
  return writeErrors?.[0]?.code === 11000;
}

/** MongoDB names the refused index in `keyPattern`; FerretDB does not. */
function refusedIndex(error: mongo.MongoServerError): 'slot' | 'version' | undefined {
  const pattern = (error as { keyPattern?: Record<string, unknown> }).keyPattern;
  if (!pattern) return undefined;
  if ('streamId' in pattern) return 'version';
  if ('_id' in pattern) return 'slot';
  return undefined;
}
