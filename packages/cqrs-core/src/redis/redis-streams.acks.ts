import type Redis from 'ioredis';

/** Told when a batch's XACK replied: every item of the batch is acknowledged, or none is. */
export interface AckListener<Item> {
  acknowledged(items: readonly Item[]): void;
  failed(items: readonly Item[], error: unknown): void;
}

interface Batch<Item> {
  readonly ids: string[];
  readonly items: Item[];
}

/**
 * Batches XACKs: acknowledgements asked for in the same turn of the event loop go out on the
 * next one (setImmediate) as one `XACK <stream> <group> <id>…` per stream, all in one write on
 * the auto-pipelined command connection. The listener hears of each batch once its XACK
 * replied — one callback per batch, no promise per entry — so a caller still knows its entry
 * is acknowledged before releasing anything. After discard() (a simulated crash) nothing more
 * is written and nobody is told: unflushed acknowledgements are lost and their entries are
 * delivered again, as at-least-once allows.
 */
export class AckBatcher<Item> {
  private pending = new Map<string, Batch<Item>>();
  private scheduled = false;
  private discarded = false;

  constructor(
    private readonly command: Redis,
    private readonly group: string,
    private readonly listener: AckListener<Item>,
  ) {}

  ack(stream: string, id: string, item: Item): void {
    if (this.discarded) return;
    let batch = this.pending.get(stream);
    if (!batch) {
      batch = { ids: [], items: [] };
      this.pending.set(stream, batch);
    }
    batch.ids.push(id);
    batch.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Stops writing; whatever was not flushed yet stays pending in Redis. */
  discard(): void {
    this.discarded = true;
    this.pending.clear();
  }

  private flush(): void {
    this.scheduled = false;
    if (this.discarded || this.pending.size === 0) return;
    const batches = this.pending;
    this.pending = new Map();
    const { listener } = this;
    for (const [stream, batch] of batches) {
      this.command.xack(stream, this.group, ...batch.ids).then(
        () => {
          if (!this.discarded) listener.acknowledged(batch.items);
        },
        (error: unknown) => {
          if (!this.discarded) listener.failed(batch.items, error);
        },
      );
    }
  }
}
