import { type Envelope } from '../messages/envelope';
import { type EventStore, type StoredEvent } from '../event-store/event-store.port';
import { type Publisher } from '../transport/transport.port';
import { type CheckpointStore } from './checkpoint-store.port';

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
  /** Events read and published per round. Default 256. */
  batchSize?: number;
  /** Poll interval when caught up. Default 50 ms. */
  pollIntervalMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * The outbox, done with the event store itself (S4-4, issue 4 "outbox / forwarder"): the store's
 * global log is the outbox and a checkpoint marks what reached the bus. Each round reads the
 * events after the checkpoint in position order, publishes them (one round trip per topic,
 * per-aggregate order kept), and only then saves the checkpoint.
 *
 * Guarantee: every appended event is published at least once, in stream order per aggregate,
 * even if the process dies between append and publish or between publish and checkpoint — the
 * next run republishes from the last checkpoint. Consumers deduplicate by messageId.
 * It relies on the store's no-skip guarantee for readAll.
 */
export class EventForwarder {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nudged = false;
  private forwarded = 0;

  constructor(private readonly options: EventForwarderOptions) {}

  get name(): string {
    return this.options.name ?? 'forwarder';
  }

  /** Events published since start (including republished ones after a restart). */
  get count(): number {
    return this.forwarded;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the round in progress (publish + checkpoint), then stops. */
  /**
   * Something was appended: forward now instead of at the next poll. Call it after an append in
   * the same process to cut the poll interval out of the append → bus latency.
   */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Publishes everything after the checkpoint once; returns how many events were published. */
  async forwardOnce(): Promise<number> {
    const from = await this.options.checkpoints.load(this.name);
    const events = await this.options.store.readAll({
      fromPosition: from,
      types: this.options.types,
      limit: this.options.batchSize ?? 256,
    });
    if (events.length === 0) return 0;
    const byTopic = new Map<string, Envelope[]>();
    for (const event of events) {
      const topic = this.options.topicOf(event);
      const batch = byTopic.get(topic) ?? [];
      batch.push(event);
      byTopic.set(topic, batch);
    }
    await Promise.all(
      [...byTopic].map(([topic, batch]) => this.options.publisher.publish(topic, batch)),
    );
    await this.options.checkpoints.save(this.name, events[events.length - 1]!.position);
    this.forwarded += events.length;
    return events.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.nudged = false;
      let published = 0;
      try {
        published = await this.forwardOnce();
        failures = 0;
      } catch (error) {
        failures++;
        this.options.onError?.(error);
      }
      if (published === 0 && this.running && !this.nudged) {
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
