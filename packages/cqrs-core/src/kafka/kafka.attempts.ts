import { type Admin } from 'kafkajs';

const MARKER = /^causeway:attempt=(\d+)$/;

/**
 * The metadata string committed with an offset whose message is being delivered: "delivery
 * number `attempt` of the message at this offset has started". Kafka keeps no delivery count;
 * this one lives in the group's committed offsets, so it survives the consumer (a crash, a
 * rebalance), and a message that keeps killing its consumers reaches the dead letters when the
 * dead-letter middleware has `maxDeliveries` (CqrsCoreModule: `maxDeliveries`).
 */
export function attemptMarker(attempt: number): string {
  return `causeway:attempt=${attempt}`;
}

/** The attempt recorded by `attemptMarker`, or 0 for any other metadata (none, other tools). */
export function parseAttemptMarker(metadata: string | null | undefined): number {
  const match = MARKER.exec(metadata ?? '');
  return match ? Number(match[1]) : 0;
}

interface CommittedMarker {
  readonly offset: string;
  readonly attempts: number;
}

/**
 * Delivery attempts per message (topic, partition, offset) of one consumer group member:
 * counted in process, and seeded from the committed marker for the first message after an
 * assignment (the one a previous owner may have been handling when it died).
 */
export class DeliveryAttempts {
  private readonly started = new Map<string, number>();
  private committed = new Map<string, Promise<Map<number, CommittedMarker>>>();

  constructor(
    private readonly admin: Admin,
    private readonly groupId: string,
  ) {}

  /** A new assignment: committed markers may have been written by other members since. */
  newGeneration(): void {
    this.committed = new Map();
  }

  /**
   * Records that a delivery starts and returns its attempt number. With `fromCommitted`, the
   * message sits at the committed offset (first of a fetched batch): its marker counts too.
   */
  async begin(topic: string, partition: number, offset: string, fromCommitted: boolean) {
    let previous = this.started.get(key(topic, partition, offset)) ?? 0;
    if (fromCommitted) {
      const marker = (await this.markers(topic)).get(partition);
      if (marker?.offset === offset) previous = Math.max(previous, marker.attempts);
    }
    return this.record(topic, partition, offset, previous + 1);
  }

  /** The next delivery of a message not at the committed offset (counted in process only). */
  beginNext(topic: string, partition: number, offset: string): number {
    return this.record(
      topic,
      partition,
      offset,
      (this.started.get(key(topic, partition, offset)) ?? 0) + 1,
    );
  }

  /**
   * A new assignment (`topic → partitions`): forgets the messages of partitions this member no
   * longer owns — their next owner counts from the committed marker, and so does this member if
   * one comes back. Without it, a message nacked just before its partition moved stayed here.
   */
  retain(assignment: Readonly<Record<string, readonly number[]>>): void {
    for (const entry of this.started.keys()) {
      const [topic, rest] = entry.split('\u0000') as [string, string];
      const partition = Number(rest.slice(0, rest.indexOf(':')));
      if (!assignment[topic]?.includes(partition)) this.started.delete(entry);
    }
  }

  /** Messages with a delivery counted and not yet acknowledged. */
  get size(): number {
    return this.started.size;
  }

  /** The message is acknowledged: forget it. */
  settle(topic: string, partition: number, offset: string): void {
    this.started.delete(key(topic, partition, offset));
  }

  private record(topic: string, partition: number, offset: string, attempt: number): number {
    this.started.set(key(topic, partition, offset), attempt);
    return attempt;
  }

  private markers(topic: string): Promise<Map<number, CommittedMarker>> {
    let markers = this.committed.get(topic);
    if (!markers) {
      const generation = this.committed;
      markers = this.admin
        .fetchOffsets({ groupId: this.groupId, topics: [topic] })
        .then(
          (topics) =>
            new Map(
              (topics[0]?.partitions ?? []).map(({ partition, offset, metadata }) => [
                partition,
                { offset, attempts: parseAttemptMarker(metadata) },
              ]),
            ),
        )
        .catch((error: unknown) => {
          generation.delete(topic); // ask again next time
          throw error;
        });
      this.committed.set(topic, markers);
    }
    return markers;
  }
}

function key(topic: string, partition: number, offset: string): string {
  return `${topic}\u0000${partition}:${offset}`;
}
