import { type Envelope, type Priority } from '../../messages/envelope';
import { DEFAULT_MAX_WIRE_BYTES } from '../../messages/json.serializer';
import { MessageTooLargeError } from '../../messages/message.errors';
import { type MessageSerializer } from '../../messages/serializer.port';
import {
  type Delivery,
  type DeliveryHandler,
  type PoisonMessage,
  type Publisher,
  type SubscribeOptions,
  type Subscriber,
  type SubscriptionHandle,
  type TransportFeatures,
} from '../transport.port';
import { decodeFromWire, encodeForWire, UndecodableMessageError } from '../wire.codec';
import { warnOfPoison } from '../poison.warning';
import { checkSubscribeOptions } from '../subscribe-options.check';
import { checkOrderKey } from '../order-key.check';
import { checkTopic } from '../topic.check';
import { TransportClosedError } from '../transport.errors';
import { checkTimings } from '../timing-options.check';
import { checkCounts } from '../count-options.check';
import { checkOptionsObject, checkSerializerOption } from '../transport-options.check';
import { shownValue } from '../../config/shown-value';
import { LANES, LaneScheduler, laneOf } from './priority.lanes';

export interface InMemoryBrokerOptions {
  serializer: MessageSerializer;
  /** Delay before a nacked message is delivered again. Default 50 ms. */
  redeliveryDelayMs?: number;
  /**
   * Refuse messages whose wire form is larger: a positive integer (bytes). Default
   * DEFAULT_MAX_WIRE_BYTES (1.5 MiB + 64 KiB).
   */
  maxMessageBytes?: number;
  /**
   * Entries kept per topic for groups created later (like MAXLEN ~: trimmed back to it once
   * 1/16 over): a positive integer. Default 100 000; each holds the message's wire form.
   */
  maxLenPerTopic?: number;
  /**
   * Receives messages that cannot be decoded; they are acknowledged and never redelivered.
   * Default: warnOfPoison (a process warning; the message is dropped): pass
   * poisonToDeadLetters(queue).
   */
  onPoison?: (poison: PoisonMessage) => void | Promise<void>;
}

export interface InMemorySubscriberOptions {
  /**
   * Longest close() waits for deliveries in flight. After it, the ones still running are
   * abandoned unacknowledged and delivered again to the group's other consumers at once (the
   * attempt count goes on); an abandoned handler runs on and its result is ignored.
   * Default 25 000 ms.
   */
  closeTimeoutMs?: number;
}

export const IN_MEMORY_FEATURES: TransportFeatures = {
  persistent: false,
  priorities: true,
  redeliversFromDeadConsumers: true,
};

interface Entry {
  readonly seq: number;
  readonly raw: string;
  readonly key: string;
  readonly lane: Priority;
}

interface Pending {
  readonly entry: Entry;
  attempt: number;
  availableAt: number;
}

/**
 * The deliveries one subscribe() call may have in flight, shared by its consumers (one per
 * topic): `maxInFlight` bounds the subscription, as on Redis Streams and Kafka — counted per
 * topic, a handler of three topics with `maxInFlight: 1` ran three at once.
 */
interface Slots {
  readonly max: number;
  used: number;
  /** The groups of its consumers, in subscribe order: a freed slot is offered round them. */
  readonly groups: Group[];
}

interface Consumer {
  readonly name: string;
  /** SubscribeOptions.replayFor, for its poison. */
  readonly replayFor?: string;
  readonly handler: DeliveryHandler;
  readonly slots: Slots;
  readonly owner: InMemorySubscriber;
  inFlight: Set<Pending>;
  closed: boolean;
}

class Group {
  readonly lanes: Record<Priority, Pending[]> = { critical: [], high: [], normal: [], low: [] };
  readonly consumers: Consumer[] = [];
  /** Keys with a delivery in flight: their later messages wait (per-key order). */
  readonly busyKeys = new Set<string>();
  readonly scheduler = new LaneScheduler();
  private turn = 0;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly topic: string,
    readonly name: string,
  ) {}

  enqueue(pending: Pending): void {
    const lane = this.lanes[pending.entry.lane];
    // Keep seq order so that a redelivered message goes before later ones of its key.
    let index = lane.length;
    while (index > 0 && lane[index - 1]!.entry.seq > pending.entry.seq) index--;
    lane.splice(index, 0, pending);
  }

  /** The first deliverable message of a lane: available now, its key idle and not preceded by a waiting message of that key. */
  firstDeliverable(lane: Priority, now: number): number {
    const queue = this.lanes[lane];
    const blocked = new Set<string>();
    for (let i = 0; i < queue.length; i++) {
      const { entry, availableAt } = queue[i]!;
      if (this.busyKeys.has(entry.key) || blocked.has(entry.key)) continue;
      if (availableAt <= now) return i;
      blocked.add(entry.key);
    }
    return -1;
  }

  nextConsumer(): Consumer | undefined {
    for (let i = 0; i < this.consumers.length; i++) {
      const consumer = this.consumers[(this.turn + i) % this.consumers.length]!;
      if (!consumer.closed && consumer.slots.used < consumer.slots.max) {
        this.turn = (this.turn + i + 1) % this.consumers.length;
        return consumer;
      }
    }
    return undefined;
  }

  /**
   * When the next waiting redelivery becomes available, if any is still in the future. Messages
   * available already but not delivered wait for something that pumps anyway (a delivery of
   * their key settling, a consumer's room) or for an earlier message of their key, which is a
   * waiting redelivery itself: a timer for them would never be set.
   */
  nextRedeliveryAt(now: number): number | undefined {
    let earliest: number | undefined;
    for (const lane of LANES) {
      for (const { availableAt } of this.lanes[lane]) {
        if (availableAt > now && (earliest === undefined || availableAt < earliest))
          earliest = availableAt;
      }
    }
    return earliest;
  }
}

/**
 * A broker in process memory with the semantics of the Redis Streams and Kafka transports:
 * consumer groups (competing within a group, fan-out across groups), at-least-once delivery,
 * per-key order, redelivery after a nack or a dead consumer, priority lanes and poison handling.
 * Messages go through the same wire encoding as the real transports. For the embedded mode and
 * fast tests; nothing survives the process.
 */
export class InMemoryBroker implements Publisher {
  private readonly logs = new Map<string, Entry[]>();
  private readonly groups = new Map<string, Group>();
  private seq = 0;
  private closed = false;

  /**
   * @throws TypeError when there are no options or no `serializer` (a MessageSerializer: it has
   *   no default), naming `redeliveryDelayMs` when it is not a non-negative number of
   *   milliseconds (checkTimings), or `maxMessageBytes` / `maxLenPerTopic` when it is not a
   *   positive integer (checkCounts)
   */
  constructor(private readonly options: InMemoryBrokerOptions) {
    checkBrokerSerializer(options);
    const settings = options as unknown as Record<string, unknown>;
    checkTimings('InMemoryBroker', settings, {
      redeliveryDelayMs: { zero: true, timer: true },
    });
    checkCounts('InMemoryBroker', settings, ['maxMessageBytes', 'maxLenPerTopic']);
  }

  /** Whether its serializer decodes `type` (see Subscriber.decodes). */
  decodes(type: string): boolean {
    return this.options.serializer.has?.(type) ?? true;
  }

  /** @throws InvalidTopicError when `topic` is not a non-empty string (checkTopic) */
  async publish(topic: string, messages: readonly Envelope[]): Promise<void> {
    if (this.closed) throw new TransportClosedError('InMemoryBroker');
    checkTopic('InMemoryBroker.publish', topic);
    const max = this.options.maxMessageBytes ?? DEFAULT_MAX_WIRE_BYTES;
    // Encode everything first: a batch is accepted whole or not at all.
    const encoded = messages.map((envelope) => {
      checkOrderKey('InMemoryBroker.publish', topic, envelope);
      const raw = encodeForWire(this.options.serializer, envelope);
      const size = Buffer.byteLength(raw);
      if (size > max) throw new MessageTooLargeError(envelope.messageId, size, max);
      return { raw, key: envelope.aggregateId, lane: laneOf(envelope.metadata.priority) };
    });
    const log = this.logOf(topic);
    for (const { raw, key, lane } of encoded) {
      const entry: Entry = { seq: ++this.seq, raw, key, lane };
      log.push(entry);
      for (const group of this.groupsOf(topic))
        group.enqueue({ entry, attempt: 1, availableAt: 0 });
    }
    const limit = this.options.maxLenPerTopic ?? 100_000;
    // Like MAXLEN ~: trimmed in chunks of 1/16 of the limit. Trimming to exactly `limit` shifted
    // the whole array on every publish once a topic was full (~170 µs per publish at 100 000,
    // 10x a publish below the cap).
    if (log.length > limit + Math.max(1, limit >> 4)) log.splice(0, log.length - limit);
    for (const group of this.groupsOf(topic)) this.pump(group);
  }

  /**
   * Appends raw bytes as they would arrive from a misbehaving producer (tests of poison
   * handling), or as a poison letter's replay writes them back; on the lane of `priority`, or
   * `normal` for a priority with no lane (laneOf, as every transport does).
   */
  async publishRaw(
    topic: string,
    key: string,
    raw: string,
    priority: Priority = 'normal',
  ): Promise<void> {
    // As publish: a replay of a poison letter must not be taken (and its letter removed) here.
    if (this.closed) throw new TransportClosedError('InMemoryBroker');
    checkTopic('InMemoryBroker.publishRaw', topic);
    // A replayed poison letter's priority is whatever its metadata said: one with no lane goes
    // to `normal`, as on Redis Streams (laneOf). Taken for a lane, it failed every delivery of
    // the topic and every later subscription of it.
    const entry: Entry = { seq: ++this.seq, raw, key, lane: laneOf(priority) };
    this.logOf(topic).push(entry);
    for (const group of this.groupsOf(topic)) {
      group.enqueue({ entry, attempt: 1, availableAt: 0 });
      this.pump(group);
    }
  }

  /**
   * A subscriber: one per simulated process, so that one can be killed while others live on.
   * @throws TypeError when `options` is given and is no object, or naming `closeTimeoutMs` when
   *   it is not a non-negative number of milliseconds
   */
  subscriber(options: InMemorySubscriberOptions = {}): InMemorySubscriber {
    return new InMemorySubscriber(this, options);
  }

  /** Stops delivering; publishing and subscribing afterwards reject (TransportClosedError). */
  async close(): Promise<void> {
    this.closed = true;
    for (const group of this.groups.values()) clearTimeout(group.timer);
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Messages waiting or in flight for a group (its lag). */
  pendingCount(topic: string, group: string): number {
    const state = this.groups.get(`${topic}\u0000${group}`);
    if (!state) return 0;
    const inFlight = state.consumers.reduce((sum, consumer) => sum + consumer.inFlight.size, 0);
    return LANES.reduce((sum, lane) => sum + state.lanes[lane].length, 0) + inFlight;
  }

  /** @internal */
  attach(
    topic: string,
    options: SubscribeOptions,
    handler: DeliveryHandler,
    owner: InMemorySubscriber,
    slots: Slots,
  ): Consumer {
    const key = `${topic}\u0000${options.group}`;
    let group = this.groups.get(key);
    if (!group) {
      group = new Group(topic, options.group);
      this.groups.set(key, group);
      if (options.startFrom !== 'latest') {
        for (const entry of this.logOf(topic)) group.enqueue({ entry, attempt: 1, availableAt: 0 });
      }
    }
    const consumer: Consumer = {
      name: options.consumer,
      ...(options.replayFor && { replayFor: options.replayFor }),
      handler,
      slots,
      owner,
      inFlight: new Set(),
      closed: false,
    };
    group.consumers.push(consumer);
    slots.groups.push(group);
    this.pump(group);
    return consumer;
  }

  /** @internal Removes a consumer; with `abandon`, its in-flight deliveries are redelivered at once. */
  detach(consumer: Consumer, abandon: boolean): void {
    consumer.closed = true;
    for (const group of this.groups.values()) {
      const index = group.consumers.indexOf(consumer);
      if (index < 0) continue;
      group.consumers.splice(index, 1);
      if (abandon) {
        for (const pending of consumer.inFlight) {
          group.busyKeys.delete(pending.entry.key);
          pending.attempt += 1;
          pending.availableAt = 0;
          group.enqueue(pending);
        }
        consumer.slots.used -= consumer.inFlight.size;
        consumer.inFlight.clear();
      }
      this.pump(group);
    }
  }

  private pump(group: Group): void {
    if (this.closed) return;
    const now = Date.now();
    for (;;) {
      const consumer = group.nextConsumer();
      if (!consumer) break;
      const positions = new Map<Priority, number>();
      const lane = group.scheduler.next((candidate) => {
        const index = group.firstDeliverable(candidate, now);
        if (index >= 0) positions.set(candidate, index);
        return index >= 0;
      });
      if (!lane) break;
      const [pending] = group.lanes[lane].splice(positions.get(lane)!, 1) as [Pending];
      group.busyKeys.add(pending.entry.key);
      consumer.inFlight.add(pending);
      consumer.slots.used++;
      void this.deliver(group, consumer, pending);
    }
    this.scheduleRedelivery(group, now);
  }

  private scheduleRedelivery(group: Group, now: number): void {
    clearTimeout(group.timer);
    const earliest = group.nextRedeliveryAt(now);
    if (earliest === undefined) return;
    group.timer = setTimeout(() => this.pump(group), earliest - now);
    group.timer.unref();
  }

  private async deliver(group: Group, consumer: Consumer, pending: Pending): Promise<void> {
    const position = String(pending.entry.seq);
    let outcome: 'ack' | 'nack' = 'ack';
    try {
      const envelope = decodeFromWire(this.options.serializer, pending.entry.raw);
      const delivery: Delivery = {
        topic: group.topic,
        envelope,
        attempt: pending.attempt,
        position,
        group: group.name,
      };
      await consumer.handler(delivery);
    } catch (error) {
      if (error instanceof UndecodableMessageError) {
        try {
          await (this.options.onPoison ?? warnOfPoison)({
            topic: group.topic,
            position,
            group: group.name,
            raw: pending.entry.raw,
            reason: error.reason,
            ...(consumer.replayFor && { replayFor: consumer.replayFor }),
          });
        } catch {
          // Not stored (a dead-letter store down): delivered again, as Redis and Kafka do.
          outcome = 'nack';
        }
      } else {
        outcome = 'nack';
      }
    }
    // A killed consumer's deliveries were already handed back: its late result is ignored.
    if (!consumer.inFlight.delete(pending)) return;
    consumer.slots.used--;
    group.busyKeys.delete(pending.entry.key);
    if (outcome === 'nack') {
      pending.attempt += 1;
      pending.availableAt = Date.now() + (this.options.redeliveryDelayMs ?? 50);
      group.enqueue(pending);
    }
    consumer.owner.settled();
    // The freed slot is offered to the subscription's other topics first, going round them:
    // otherwise a busy topic would take every slot it frees and starve the others.
    const { groups } = consumer.slots;
    const at = groups.indexOf(group);
    for (let i = 1; i <= groups.length; i++) this.pump(groups[(at + i) % groups.length]!);
  }

  private logOf(topic: string): Entry[] {
    let log = this.logs.get(topic);
    if (!log) this.logs.set(topic, (log = []));
    return log;
  }

  private groupsOf(topic: string): Group[] {
    return [...this.groups.values()].filter((group) => group.topic === topic);
  }
}

/** The subscriber side of one simulated process. */
export class InMemorySubscriber implements Subscriber {
  private readonly consumers = new Set<Consumer>();
  private waiters: (() => void)[] = [];

  private readonly closeTimeoutMs: number;
  private closed = false;

  /**
   * Made by InMemoryBroker.subscriber().
   * @throws TypeError when `broker` is no InMemoryBroker, when `options` is given and is no
   *   object, or naming `closeTimeoutMs` when it is not a non-negative number of milliseconds
   */
  constructor(
    private readonly broker: InMemoryBroker,
    options: InMemorySubscriberOptions = {},
  ) {
    if (!(broker instanceof InMemoryBroker))
      throw new TypeError(
        `InMemorySubscriber: broker must be an InMemoryBroker (use broker.subscriber()), got ${
          typeof broker === 'object' && broker !== null ? 'another object' : shownValue(broker)
        }`,
      );
    checkOptionsObject('InMemorySubscriber', options);
    checkTimings('InMemorySubscriber', options as Record<string, unknown>, {
      closeTimeoutMs: { zero: true, timer: true },
    });
    this.closeTimeoutMs = options.closeTimeoutMs ?? 25_000;
  }

  async subscribe(
    topics: readonly string[],
    options: SubscribeOptions,
    handler: DeliveryHandler,
  ): Promise<SubscriptionHandle> {
    if (this.closed) throw new TransportClosedError('InMemorySubscriber');
    if (this.broker.isClosed) throw new TransportClosedError('InMemoryBroker');
    checkSubscribeOptions('InMemorySubscriber.subscribe', topics, options);
    const slots: Slots = { max: options.maxInFlight ?? 16, used: 0, groups: [] };
    const attached = topics.map((topic) =>
      this.broker.attach(topic, options, handler, this, slots),
    );
    for (const consumer of attached) this.consumers.add(consumer);
    return { close: () => this.release(attached) };
  }

  decodes(type: string): boolean {
    return this.broker.decodes(type);
  }

  /**
   * Simulates a crash: deliveries in flight are abandoned and go to other consumers of the
   * group. Unusable afterwards, as after close().
   */
  kill(): void {
    this.closed = true;
    for (const consumer of this.consumers) this.broker.detach(consumer, true);
    this.consumers.clear();
    this.settled(); // a close() waiting on them returns: their deliveries went back
  }

  /** Closes every subscription (see SubscriptionHandle.close); subscribing afterwards rejects. */
  async close(): Promise<void> {
    this.closed = true;
    await this.release([...this.consumers]);
  }

  /** @internal */
  settled(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits for their deliveries in flight (at most closeTimeoutMs: the rest are abandoned). */
  private async release(consumers: Consumer[]): Promise<void> {
    for (const consumer of consumers) consumer.closed = true; // stop taking deliveries
    const deadline = Date.now() + this.closeTimeoutMs;
    // A consumer killed meanwhile (kill()) was detached, its in-flight deliveries cleared.
    while (consumers.some((consumer) => consumer.inFlight.size > 0) && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, deadline - Date.now());
      });
      clearTimeout(timer);
    }
    for (const consumer of consumers) {
      this.broker.detach(consumer, consumer.inFlight.size > 0);
      this.consumers.delete(consumer);
    }
  }
}

/**
 * The serializer has no default (every transport needs the application's own registry), so a
 * broker built without options, or without it, failed later with "Cannot read properties of
 * undefined (reading 'redeliveryDelayMs')" when built, or at the first publish (a review,
 * session 42).
 * @throws TypeError saying what is required and what was given
 */
function checkBrokerSerializer(options: unknown): void {
  checkOptionsObject('InMemoryBroker', options, ' with a serializer ({ serializer })');
  checkSerializerOption('InMemoryBroker', (options as { serializer?: unknown }).serializer);
}
