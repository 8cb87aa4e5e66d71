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
 * Where acknowledgements asked for on their own (not taken along by a read, see flush) go:
 * - `command`: on the command connection (the reader is busy with a read);
 * - `reader`: on the reader's connection, free now — Redis applies them before its next read.
 */
export type AckRoute = 'command' | 'reader';

/**
 * Batches XACKs: acknowledgements asked for in the same turn of the event loop go out on the
 * next one (setImmediate), or earlier with a read that takes them along (flush), as one
 * `XACK <stream> <group> <id>…` per stream, all in one write: an explicit pipeline, written at
 * once — not the command connection's auto-pipelining, which would wait for one more turn (and
 * the handlers a read reply runs meanwhile) before writing. Where they go on their own is the
 * route (AckRoute) the reader sets: on the reader's connection while it is free, so that Redis
 * applies them before its next read and they count as room for it (queued); on the command
 * connection while a read is out.
 * The listener hears of each batch once its XACK replied — one callback per batch, no promise
 * per entry — so a caller still knows its entry is acknowledged before releasing anything.
 * After discard() (a simulated crash) nothing more is written and nobody is told: unflushed
 * acknowledgements are lost and their entries are delivered again, as at-least-once allows.
 */
export class AckBatcher<Item> {
  private pending = new Map<string, Batch<Item>>();
  /** Per stream: acknowledgements written on the reader's connection, not replied yet. */
  private readonly onReader = new Map<string, number>();
  private scheduled = false;
  private discarded = false;
  private route: AckRoute = 'command';

  constructor(
    private readonly command: Redis,
    private readonly group: string,
    private readonly listener: AckListener<Item>,
    /** The connection reads are sent on; undefined: every acknowledgement uses `command`. */
    private readonly reader?: Redis,
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
    this.schedule();
  }

  /** Sets where acknowledgements asked for on their own go from now on (see AckRoute). */
  routeTo(route: AckRoute): void {
    this.route = route;
    if (this.pending.size > 0) this.schedule();
  }

  /**
   * Acknowledgements of `stream` that Redis applies before the reader's next read: asked for
   * and not written yet, or written on the reader's connection and not replied yet.
   */
  queued(stream: string): number {
    return (this.pending.get(stream)?.ids.length ?? 0) + (this.onReader.get(stream) ?? 0);
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
    const batches: [string, Batch<Item>][] = [];
    const pipeline = connection.pipeline();
    const counted = connection === this.reader;
    for (const [stream, batch] of this.pending) {
      batches.push([stream, batch]);
      pipeline.xack(stream, this.group, ...batch.ids);
      if (counted) this.onReader.set(stream, (this.onReader.get(stream) ?? 0) + batch.ids.length);
    }
    this.pending = new Map();
    const uncount = () => {
      if (!counted) return;
      for (const [stream, batch] of batches) {
        const left = (this.onReader.get(stream) ?? 0) - batch.ids.length;
        if (left > 0) this.onReader.set(stream, left);
        else this.onReader.delete(stream);
      }
    };
    return pipeline.exec().then(
      (replies) => {
        uncount();
        batches.forEach(([, batch], i) => {
          const reply = replies?.[i];
          this.settle(batch, reply ? reply[0] : new Error('XACK got no reply'));
        });
      },
      (error: unknown) => {
        uncount();
        for (const [, batch] of batches) this.settle(batch, error);
      },
    );
  }

  /** Writes the pending acknowledgements on the next turn, by the route then in force. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const { route, reader } = this;
      void this.flush(route === 'reader' && reader?.status === 'ready' ? reader : this.command);
    });
  }

  /** Tells the listener how one stream's XACK ended (`error` null: it replied). */
  private settle(batch: Batch<Item>, error: unknown): void {
    if (this.discarded) return;
    if (error === null) this.listener.acknowledged(batch.items);
    else this.listener.failed(batch.items, error);
  }
}
