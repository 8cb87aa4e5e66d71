import type Redis from 'ioredis';

interface Batch {
  readonly ids: string[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Batches XACKs: acknowledgements asked for in the same turn of the event loop go out on the
 * next one (setImmediate) as one `XACK <stream> <group> <id>…` per stream, all in one write on
 * the auto-pipelined command connection. Each ack() resolves when its stream's XACK replied, so
 * a caller that awaits it still knows its entry is acknowledged (nothing is released before
 * that). After discard() (a simulated crash) nothing more is written: unflushed
 * acknowledgements are lost and their entries are delivered again, as at-least-once allows.
 */
export class AckBatcher {
  private pending = new Map<string, Batch>();
  private scheduled = false;
  private discarded = false;

  constructor(
    private readonly command: Redis,
    private readonly group: string,
  ) {}

  ack(stream: string, id: string): Promise<void> {
    if (this.discarded) return Promise.reject(new Error('acknowledgements discarded'));
    let batch = this.pending.get(stream);
    if (!batch) {
      batch = newBatch();
      this.pending.set(stream, batch);
    }
    batch.ids.push(id);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return batch.done;
  }

  /** Stops writing; whatever was not flushed yet is rejected and stays pending in Redis. */
  discard(): void {
    this.discarded = true;
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [stream, batch] of batches) {
      if (this.discarded) {
        batch.reject(new Error('acknowledgements discarded'));
        continue;
      }
      this.command.xack(stream, this.group, ...batch.ids).then(
        () => batch.resolve(),
        (error: unknown) => batch.reject(error),
      );
    }
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits any more (all callers gone after a crash) must not be an unhandled rejection.
  done.catch(() => undefined);
  return { ids: [], done, resolve, reject };
}
