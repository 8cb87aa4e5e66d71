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
 * next one (setImmediate), or earlier with a read that takes them along (flush), as one
 * `XACK <stream> <group> <id>…` per stream, all in one write: an explicit pipeline, written at
 * once — not the command connection's auto-pipelining, which would wait for one more turn (and
 * the handlers a read reply runs meanwhile) before writing.
 * The listener hears of each batch once its XACK replied — one callback per batch, no promise
 * per entry — so a caller still knows its entry is acknowledged before releasing anything.
 * After discard() (a simulated crash) nothing more is written and nobody is told: unflushed
 * acknowledgements are lost and their entries are delivered again, as at-least-once allows.
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
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  /** Acknowledgements of `stream` asked for and not written yet. */
  queued(stream: string): number {
    return this.pending.get(stream)?.ids.length ?? 0;
  }

  /** Stops writing; whatever was not flushed yet stays pending in Redis. */
  discard(): void {
    this.discarded = true;
    this.pending.clear();
  }

  /**
   * Writes the acknowledgements asked for so far, now, on `connection` (default: the command
   * connection): on the connection that sends a read next, Redis applies them before that read.
   * Resolves once the listener heard how they ended (a failed XACK is told, not rejected).
   */
  flush(connection: Redis = this.command): Promise<void> {
    if (this.discarded || this.pending.size === 0) return Promise.resolve();
    const batches: Batch<Item>[] = [];
    const pipeline = connection.pipeline();
    for (const [stream, batch] of this.pending) {
      batches.push(batch);
      pipeline.xack(stream, this.group, ...batch.ids);
    }
    this.pending = new Map();
    return pipeline.exec().then(
      (replies) => {
        batches.forEach((batch, i) => {
          const reply = replies?.[i];
          this.settle(batch, reply ? reply[0] : new Error('XACK got no reply'));
        });
      },
      (error: unknown) => {
        for (const batch of batches) this.settle(batch, error);
      },
    );
  }

  /** Tells the listener how one stream's XACK ended (`error` null: it replied). */
  private settle(batch: Batch<Item>, error: unknown): void {
    if (this.discarded) return;
    if (error === null) this.listener.acknowledged(batch.items);
    else this.listener.failed(batch.items, error);
  }
}
