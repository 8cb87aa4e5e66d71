import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import {
  type EventStore,
  type StoredEvent,
  type Subscription,
} from '../event-store/event-store.port';
import { CheckpointPastEndError } from '../event-store/event-store.errors';
import { type MessageSerializer } from '../messages/serializer.port';
import { currentTypeName, storedTypeNames } from '../messages/type.names';
import { type Publisher } from '../transport/transport.port';
import { throttledWarning } from '../router/throttled.warning';
import { type CheckpointStore } from './checkpoint-store.port';
import { type ForwardLedger } from './forward-ledger.port';
import { checkForwarderOptions } from './event.forwarder.options-check';
import {
  isUnencodable,
  UnpublishableEventError,
  UnreadableEventError,
} from './unpublishable-event.error';

export interface EventForwarderOptions {
  store: EventStore;
  publisher: Publisher;
  checkpoints: CheckpointStore;
  /** Topic of an event, e.g. `naming.event(event.type)`. */
  topicOf: (event: StoredEvent) => string;
  /** Checkpoint name; one per forwarder deployment. Default `forwarder`. */
  name?: string;
  /** Only these event types. */
  types?: readonly string[];
  /**
   * The registry the store writes and reads with, when types were renamed
   * (SerializerRegistry.formerNames): eager forwarding then publishes an event appended under a
   * former name as the store keeps it (the current name, to its topic), and `types` matches a
   * type's former names, as the rounds' reads do. Without it, names are taken as they are.
   */
  serializer?: MessageSerializer;
  /** Events read and published per round: a positive integer. Default 256. */
  batchSize?: number;
  /** Poll interval when caught up: a positive number of milliseconds. Default 50 ms. */
  pollIntervalMs?: number;
  /** Streams whose last append this process remembers for eager forwarding. Default 10 000. */
  eagerStreams?: number;
  /**
   * Shared record of what eager forwarding published (every process of the deployment records
   * into the same one): a round then moves the checkpoint past it without reading the store, and
   * reads only when an event was not recorded by the next round, when nudged, or every
   * `ledgerReadIntervalMs`. Without one every round reads.
   */
  ledger?: ForwardLedger;
  /**
   * With a ledger, the longest time between two reads of the store: they find what the ledger
   * cannot know of (a writer that died after its insert, before LedgerUnits.head knew of it).
   * A non-negative number of milliseconds (0: every round reads). Default 30 000 ms; the first
   * round always reads.
   */
  ledgerReadIntervalMs?: number;
  /**
   * Where an event that can never be published goes (UnpublishableEventError: unknown type,
   * fails the schema, too large, illegal topic): it is dead-lettered with the reason
   * (handler `(forwarder)`, position `store:<position>`) and skipped, so the events after it
   * flow; replay it once the registry is fixed. Without one the forwarder stops at such an
   * event and reports it through `onError` every round: the outbox never skips an event
   * silently.
   */
  deadLetters?: DeadLetterQueue;
  /**
   * Told of every error of a round (a publish the broker refused, a store or checkpoint it
   * could not read, an event it can never publish); the forwarder retries by itself. Default:
   * a process warning (`CausewayForwarderWarning`, code `CAUSEWAY_FORWARDER_FAILED`), the first
   * of each error name at once, then at most one every 10 s counting those left out: an outbox
   * that cannot reach its broker is never silent.
   */
  onError?: (error: unknown) => void;
}

/** The `type` of the process warning an EventForwarder without `onError` emits. */
export const FORWARDER_WARNING = 'CausewayForwarderWarning';

function warnOfForwarderErrors(name: string): (error: unknown) => void {
  const warn = throttledWarning({ type: FORWARDER_WARNING, code: 'CAUSEWAY_FORWARDER_FAILED' });
  return (error) => {
    const kind = error instanceof Error ? error.name : typeof error;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    warn(
      kind,
      `event forwarder ${name} failed: ${reason}. It retries by itself; pass onError to report ` +
        'it your way',
    );
  };
}

/**
 * The event an EventForwarder is stopped at (EventForwarder.blocked): it can never be published
 * as it is (without `deadLetters`), or its store cannot read it (with or without), and nothing
 * after it is published by the rounds until the registry or the event is fixed, or the event
 * removed.
 */
export interface ForwarderBlock {
  /** The event, where it is, and why it cannot be published (or read). */
  readonly error: UnpublishableEventError | UnreadableEventError;
  /** When a round first stopped at this event. */
  readonly since: Date;
}

/** The rounds of an EventForwarder that have failed one after the other (EventForwarder.failing). */
export interface ForwarderFailing {
  /** When the first of them failed. */
  readonly since: Date;
  /** How many failed in a row. */
  readonly rounds: number;
  /** The latest one's error. */
  readonly error: unknown;
}

/** What this process knows of the last append it made to a stream (eager forwarding). */
interface StreamTail {
  /** Version and position of the append's last event. */
  version: number;
  position: number;
  /** Resolves to whether the append's events were published by `forwardNow`. */
  published: Promise<boolean>;
}

/** Positions published by forwardNow that the rounds of this process still skip; bounded. */
const SKIPS_REMEMBERED = 100_000;

/**
 * The outbox, done with the event store itself (S4-4, issue 4 "outbox / forwarder"): the store's
 * global log is the outbox and a checkpoint marks what reached the bus. Each round reads the
 * events after the checkpoint in position order, publishes them (one round trip per topic,
 * per-aggregate order kept), and only then saves the checkpoint.
 *
 * Guarantee: every appended event is published at least once, in stream order per aggregate,
 * even if the process dies between append and publish or between publish and checkpoint — the
 * next run republishes from the last checkpoint. Consumers deduplicate by messageId.
 * It relies on the store's no-skip guarantee for readAllPage.
 *
 * Eager forwarding (`forwardNow`, e.g. through `EagerForwardingStore`) publishes an append right
 * after it, from the process that made it, instead of waiting for a round: the rounds then only
 * catch what it could not publish. It keeps the guarantee — an event is published eagerly only
 * when this process knows every earlier event of its stream was published: it is the stream's
 * first, or it follows this process's own append that was published eagerly, or the checkpoint
 * has passed the previous append. Otherwise it is left to the rounds, and nothing is reordered.
 * What it adds: a round may publish an event again after later events of its stream went out
 * eagerly (the round of another process, which cannot know); consumers that deduplicate by
 * messageId or guard by version (as they must for at-least-once) see nothing. docs/adr/005.
 */
export class EventForwarder {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nudged = false;
  private forwarded = 0;
  private eager = 0;
  private readonly tails = new Map<string, StreamTail>();
  private readonly skips = new Set<number>();
  private readonly inFlight = new Set<Promise<boolean>>();
  /** With a ledger: when the store was last read, and where the ledger stopped last round. */
  private lastRead = 0;
  private gap: number | undefined;
  private mustRead = false;
  /** The last read was full: read on at once unless the ledger passes the rest. */
  private catchingUp = false;
  private readsMade = 0;
  /** Position of an event that could not be published (no deadLetters): tried alone first. */
  private blockedAt: number | undefined;
  /** The same event, reported through `blocked` until a round gets past it or the forwarder stops. */
  private block: ForwarderBlock | undefined;
  /** The rounds failing in a row (see `failing`). */
  private failure: ForwarderFailing | undefined;
  /** Whether the next read that finds nothing is to check for a checkpoint past the end. */
  private checkStart = true;
  /** The checkpoint was found past the end of the log: every round fails with this until moved. */
  private pastEnd: CheckpointPastEndError | undefined;

  private readonly reportError: (error: unknown) => void;

  /**
   * @throws TypeError naming `store`, `publisher`, `checkpoints` or `topicOf` when one is
   *   missing or not what it must be, or `batchSize` (a positive integer), `pollIntervalMs`
   *   (positive milliseconds) or `ledgerReadIntervalMs` (non-negative milliseconds) when given
   *   otherwise (checkForwarderOptions)
   */
  constructor(private readonly options: EventForwarderOptions) {
    checkForwarderOptions(options);
    this.reportError = options.onError ?? warnOfForwarderErrors(this.name);
  }

  get name(): string {
    return this.options.name ?? 'forwarder';
  }

  private get batchSize(): number {
    return this.options.batchSize ?? 256;
  }

  /** Events published since start (including republished ones after a restart). */
  get count(): number {
    return this.forwarded;
  }

  /** Of `count`, the events published by `forwardNow`. */
  get eagerCount(): number {
    return this.eager;
  }

  /**
   * The event the rounds are stopped at, when there is no `deadLetters` (see there), or whose
   * store cannot read it (UnreadableEventError: a read of the store fails at it, every round);
   * undefined while they flow. Set by the round that fails on it, cleared by the first round
   * whose checkpoint passes it (it was published, or removed from the store), by the first read
   * that succeeds after an unreadable one, and by `stop()`: a
   * stopped forwarder (a lease given up) is not the one that is blocked. For metrics and health
   * probes (forwarderProbe): otherwise a blocked outbox is only the `onError` report of each round.
   */
  get blocked(): ForwarderBlock | undefined {
    return this.block;
  }

  /**
   * The rounds failing one after the other, whatever the error (a broker refusing, a store read
   * timing out, a checkpoint it cannot save, an event it is blocked at): since when, how many,
   * and the latest error; undefined once a round succeeds, and after `stop()`. Nothing reaches
   * the bus from the rounds meanwhile (a round that only asked the ledger, reading nothing, does
   * not end it), so an outbox that stays failing is stuck even where every
   * server answers its health check (a read FerretDB times out while it answers pings): see
   * forwarderProbe.
   */
  get failing(): ForwarderFailing | undefined {
    return this.failure;
  }

  /** Reads of the store by the rounds since start (with a ledger, only what it could not pass). */
  get reads(): number {
    return this.readsMade;
  }

  /**
   * Starts the rounds. The first round after every start reads the store (start-up, and a lease
   * taken back under LeaseSupervisor, which starts this same forwarder again): the one read
   * that finds an append whose writer died before the ledger or the slot hint knew of it.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    // A forwarder started again forgets its last read: otherwise its rounds trusted the ledger
    // until ledgerReadIntervalMs after a read made before it lost the lease (a review, session 36).
    this.lastRead = 0;
    this.gap = undefined;
    this.catchingUp = false;
    this.checkStart = true;
    this.pastEnd = undefined;
    this.loop = this.run();
  }

  /**
   * Something was appended: forward now instead of at the next poll. Call it after an append in
   * the same process to cut the poll interval out of the append → bus latency.
   */
  nudge(): void {
    this.nudged = true;
    this.mustRead = true;
    this.wake?.();
  }

  /** Finishes the round in progress (publish + checkpoint) and the eager publications, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.all(this.inFlight);
    this.block = undefined;
    this.failure = undefined;
  }

  /**
   * Publishes the events of one append this process has just made (all of one stream, in
   * version order) now, if it may without breaking stream order (see the class comment).
   * Resolves to whether it did; when not (not allowed, or the publish failed) the events are
   * left to the rounds. Never rejects. Appends to one stream are published in the order of the
   * calls: call it in append order.
   */
  forwardNow(events: readonly StoredEvent[]): Promise<boolean> {
    const first = events[0];
    const last = events[events.length - 1];
    if (!first || !last) return Promise.resolve(false);
    // The whole append goes to the ledger, events of other types included: nothing is left of it.
    const positions = events.map((event) => event.position);
    // As the store wrote them (a former name becomes the current one), filtered as rounds are.
    const { serializer, types } = this.options;
    events = events.map((event) => {
      const type = currentTypeName(serializer, event.type);
      return type === event.type ? event : { ...event, type };
    });
    const wanted = storedTypeNames(serializer, types);
    if (wanted) events = events.filter((event) => wanted.has(event.type));
    const previous = this.tails.get(first.streamId);
    const published = this.publishNow(events, first.version, previous, positions);
    this.tails.delete(first.streamId);
    this.tails.set(first.streamId, { version: last.version, position: last.position, published });
    if (this.tails.size > (this.options.eagerStreams ?? 10_000)) {
      const oldest = this.tails.keys().next();
      if (!oldest.done) this.tails.delete(oldest.value);
    }
    this.inFlight.add(published);
    void published.then(() => this.inFlight.delete(published));
    return published;
  }

  private async publishNow(
    events: readonly StoredEvent[],
    firstVersion: number,
    previous: StreamTail | undefined,
    positions: readonly number[],
  ): Promise<boolean> {
    try {
      if (!(await this.mayPublishNow(firstVersion, previous))) return false;
      if (events.length > 0) await this.publish(events);
      // Not awaited, and its failure only costs a read of the store by a round.
      this.options.ledger?.record(positions).catch(() => undefined);
      this.eager += events.length;
      this.forwarded += events.length;
      if (this.skips.size + events.length > SKIPS_REMEMBERED) this.skips.clear();
      for (const event of events) this.skips.add(event.position);
      return true;
    } catch (error) {
      this.reportError(error);
      return false;
    }
  }

  /** Whether every event of the stream before `firstVersion` is known to be published. */
  private async mayPublishNow(
    firstVersion: number,
    previous: StreamTail | undefined,
  ): Promise<boolean> {
    if (firstVersion === 1) return true;
    if (!previous || previous.version !== firstVersion - 1) return false;
    if (await previous.published) return true;
    return (await this.options.checkpoints.load(this.name)) >= previous.position;
  }

  private async publish(events: readonly StoredEvent[]): Promise<void> {
    await Promise.all(
      [...this.byTopic(events)].map(([topic, batch]) =>
        this.options.publisher.publish(topic, batch),
      ),
    );
  }

  /** The events grouped by topic, in order within each: one publish (round trip) per topic. */
  private byTopic(events: readonly StoredEvent[]): Map<string, StoredEvent[]> {
    const batches = new Map<string, StoredEvent[]>();
    for (const event of events) {
      const topic = this.options.topicOf(event);
      const batch = batches.get(topic);
      if (batch) batch.push(event);
      else batches.set(topic, [event]);
    }
    return batches;
  }

  /**
   * Publishes a round's events, one batch per topic. A topic whose batch failed because of an
   * event in it (isUnencodable) is published again event by event, in order, to find it: it
   * goes to `deadLetters` and the others on. Without a queue the round stops there: the
   * checkpoint is saved just before the event (everything before it was published) and the
   * round fails with UnpublishableEventError naming it; later rounds try that event alone
   * first, so the events after it are not published again and again while it blocks.
   * Any other failure fails the round as before (it is retried from the checkpoint).
   */
  private async publishOrSetAside(events: readonly StoredEvent[], from: number): Promise<number> {
    const blocked = this.blockedAt !== undefined && events[0]?.position === this.blockedAt;
    const batches = this.byTopic(events);
    const failed: StoredEvent[] = [];
    if (blocked) failed.push(...events);
    else {
      const results = await Promise.allSettled(
        [...batches].map(([topic, batch]) => this.options.publisher.publish(topic, batch)),
      );
      let fatal: unknown;
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') return;
        if (isUnencodable(result.reason)) failed.push(...[...batches.values()][i]!);
        else fatal ??= result.reason;
      });
      if (fatal !== undefined) throw fatal;
      if (failed.length === 0) return events.length;
      failed.sort((a, b) => a.position - b.position);
    }
    let published = events.length;
    let before = from;
    for (const event of failed) {
      try {
        await this.publish([event]);
        before = event.position;
        if (event.position === this.blockedAt) this.unblock();
        continue;
      } catch (error) {
        if (!isUnencodable(error)) throw error;
        const unpublishable = new UnpublishableEventError(
          event,
          this.options.topicOf(event),
          error,
        );
        if (!this.options.deadLetters) {
          // Everything before it is out: its own topic's events up to here, the other topics'
          // batches (or, when blocked, nothing yet: `before` is still the checkpoint).
          const earlier = events.filter((e) => e.position < event.position);
          const last = blocked ? before : (earlier[earlier.length - 1]?.position ?? from);
          if (last > from) await this.options.checkpoints.save(this.name, last);
          if (this.block?.error.position !== event.position)
            this.block = { error: unpublishable, since: new Date() };
          else this.block = { ...this.block, error: unpublishable };
          this.blockedAt = event.position;
          throw unpublishable;
        }
        const { streamId: _stream, position: _position, ...envelope } = event;
        await this.options.deadLetters.add({
          envelope,
          originalTopic: unpublishable.topic,
          position: `store:${event.position}`,
          group: this.name,
          handler: '(forwarder)',
          reason: unpublishable.message,
          errorName: error.name,
          stack: error.stack,
          attempts: 1,
          deadLetteredAt: new Date().toISOString(),
        });
        if (event.position === this.blockedAt) this.unblock();
        this.reportError(unpublishable);
        published--;
      }
    }
    return published;
  }

  /**
   * Whether `from` (the checkpoint) is past the end of the store's log: a checkpoint of another
   * log (the event store emptied, restored or re-created while the checkpoint store kept its
   * position). Every round then read nothing after it without a word, and the events appended
   * meanwhile, at positions up to it, never reached the bus (a review, session 47). Asked as a
   * subscription asks (CheckpointPastEndError, the store's own end of the log), through a
   * one-page subscription from `from`: a store that cannot tell is taken at its word.
   * @throws CheckpointPastEndError naming the forwarder, the checkpoint and the end; every round
   *   after fails with it too (onError, `failing`, forwarderProbe) until the checkpoint is moved
   */
  private async checkEnd(from: number): Promise<void> {
    const { store, types } = this.options;
    if (typeof store.subscribe !== 'function') return;
    let subscription: Subscription | undefined;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await new Promise<{ error?: unknown }>((resolve) => {
      // A store whose subscription never says it caught up must not hold the rounds for ever.
      timer = setTimeout(() => resolve({}), 30_000);
      subscription = store.subscribe({
        fromPosition: from,
        ...(types && { types }),
        limit: 1,
        handler: () => resolve({}),
        onCaughtUp: () => resolve({}),
        onError: (error) => resolve({ error }),
      });
    }).finally(() => clearTimeout(timer));
    await subscription?.stop();
    if (outcome.error instanceof CheckpointPastEndError) {
      this.pastEnd = new CheckpointPastEndError(from, outcome.error.end, {
        what: `event forwarder ${this.name}'s checkpoint`,
        remedy:
          `move it to a position of this log: checkpoints.reset('${this.name}') forwards all ` +
          'of it again (consumers deduplicate by messageId), or save the position to go on from',
      });
      throw this.pastEnd;
    }
    if (outcome.error !== undefined) throw outcome.error;
  }

  private unblock(): void {
    this.blockedAt = undefined;
    this.block = undefined;
  }

  /**
   * The checkpoint was saved at `position`. Past the event it was blocked at, that event is out
   * or gone (removed by truncation, deletion or retention: a round then reads past it without
   * trying it), so the forwarder is no longer blocked; otherwise it stayed reported for ever.
   */
  private passed(position: number): void {
    if (this.blockedAt !== undefined && position >= this.blockedAt) this.unblock();
    if (this.block?.error instanceof UnreadableEventError && position >= this.block.error.position)
      this.block = undefined;
  }

  /**
   * Reads the page after `from`. A read that fails at an event it cannot decode (located: the
   * error names its position) fails every round the same way, with or without `deadLetters`:
   * it is reported in `blocked` (and so in forwarderProbe and its gauge), else an outbox stuck
   * there was only a warn line per round (a review, session 42). The first read that succeeds
   * clears it (the registry was fixed, or the event removed).
   */
  private async readPage(from: number): ReturnType<EventStore['readAllPage']> {
    let page;
    try {
      page = await this.options.store.readAllPage({
        fromPosition: from,
        types: this.options.types,
        limit: this.batchSize,
      });
    } catch (error) {
      if (UnreadableEventError.locates(error)) {
        const unreadable = new UnreadableEventError(error);
        const since =
          this.block?.error.position === unreadable.position ? this.block.since : new Date();
        this.block = { error: unreadable, since };
        throw unreadable;
      }
      throw error;
    }
    if (this.block?.error instanceof UnreadableEventError) this.block = undefined;
    return page;
  }

  /**
   * Publishes everything after the checkpoint once (but what was already published eagerly:
   * by this process, or by any process as its ledger recorded); returns how many events it
   * read. With a ledger it first moves the checkpoint past what the ledger recorded, and may
   * read nothing (returns 0).
   */
  async forwardOnce(): Promise<number> {
    let from = await this.options.checkpoints.load(this.name);
    if (this.pastEnd) {
      if (this.pastEnd.fromPosition === from) throw this.pastEnd;
      this.pastEnd = undefined; // moved (reset, or saved at a position of this log)
    }
    const ledger = this.options.ledger;
    const readEvery = this.options.ledgerReadIntervalMs ?? 30_000;
    if (ledger) {
      // Always asked first, also before a read that is due: the read then starts after what the
      // ledger passed (a full read's catch-up, the 30-s read, a nudge) and covers less.
      // A ledger that cannot answer (its Redis is down) must not stop the rounds: read instead.
      const passed = await ledger.advance(from).catch((error: unknown) => {
        this.reportError(error);
        return undefined;
      });
      if (passed) {
        const { through, caughtUp } = passed;
        if (through > from) {
          await this.options.checkpoints.save(this.name, through);
          this.passed(through);
        }
        from = Math.max(from, through);
        const due =
          this.mustRead ||
          this.lastRead === 0 ||
          Date.now() - this.lastRead >= readEvery ||
          (this.catchingUp && !caughtUp);
        this.catchingUp = false;
        // Not recorded yet is usually a publish still in flight: read only when the same gap
        // is still there a round later.
        if (!due && (caughtUp || this.gap !== through)) {
          this.gap = caughtUp ? undefined : through;
          return 0;
        }
      }
    }
    this.gap = undefined;
    this.mustRead = false;
    this.catchingUp = false;
    this.lastRead = Date.now();
    this.readsMade++;
    const page = await this.readPage(from);
    const events = page.events;
    if (this.checkStart) {
      // Only a first read that found nothing can start past the end: checked once, then (again
      // when the check could not answer, and from a checkpoint moved after it fired).
      if (from > 0 && events.length === 0 && page.caughtUp && page.position <= from)
        await this.checkEnd(from);
      this.checkStart = false;
    }
    if (events.length === 0) {
      // Only events of other types (with `types`): the page's checkpoint moves past them, so
      // the next round does not read them again; a page that stopped early reads on.
      if (page.position > from) {
        await this.options.checkpoints.save(this.name, page.position);
        this.passed(page.position);
      }
      if (!page.caughtUp) this.mustRead = true;
      // Nothing after the checkpoint: its append is whole and out. Recording its unit lets the
      // ledger pass it, so a lost record of the last read cannot make every round read again.
      else if (ledger && Math.max(from, page.position) > 0)
        await ledger.record([Math.max(from, page.position)]).catch(() => undefined);
      return 0;
    }
    // Events this process already published eagerly are not published again, nor those the
    // ledger recorded (another process published them eagerly): a read of the lease holder
    // would otherwise republish every event of the other instances after the checkpoint.
    let pending = events.filter((event) => !this.skips.delete(event.position));
    if (pending.length > 0 && ledger?.recorded) {
      const out = await ledger
        .recorded(pending.map((event) => event.position))
        .catch(() => new Set<number>()); // unknown: publish them (duplicates, never a gap)
      pending = pending.filter((event) => !out.has(event.position));
    }
    const published = pending.length > 0 ? await this.publishOrSetAside(pending, from) : 0;
    const last = events[events.length - 1]!.position;
    await this.options.checkpoints.save(this.name, last);
    this.passed(last);
    // A read that was not full reached the end of the log: the last append is whole, so the
    // ledger may count its unit as passed and move on from there.
    if (events.length < this.batchSize) await ledger?.record([last]).catch(() => undefined);
    // A full read: more is waiting, go on at once (a catch-up after a crash) rather than wait
    // for gaps — but ask the ledger first, which usually passes the rest without a read.
    else if (ledger) this.catchingUp = true;
    else this.mustRead = true;
    this.forwarded += published;
    return events.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.nudged = false;
      let published = 0;
      try {
        const reads = this.readsMade;
        published = await this.forwardOnce();
        failures = 0;
        // Only a round that read the store ends a spell: with a ledger the rounds between two
        // reads only ask it, and succeed, so a read failing every time looked like a new spell
        // at each read, and never lasted long enough for the probe.
        if (this.readsMade > reads) this.failure = undefined;
      } catch (error) {
        failures++;
        const { since = new Date(), rounds = 0 } = this.failure ?? {};
        this.failure = { since, rounds: rounds + 1, error };
        // The next round reads the store: with the ledger caught up, the rounds after a failed
        // read would only ask it, succeed, and leave the spell until ledgerReadIntervalMs.
        this.mustRead = true;
        this.reportError(error);
      }
      // A full batch means more is waiting: go on at once. Otherwise wait for the next poll
      // (or a nudge): under a steady load each round would find a few new events and, without
      // the wait, rounds would run back to back (on FerretDB each one scans the collection).
      if (published < this.batchSize && this.running && !this.nudged) {
        const delay =
          failures > 0
            ? Math.min(5_000, 100 * 2 ** Math.min(failures, 6))
            : (this.options.pollIntervalMs ?? 50);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }
}
