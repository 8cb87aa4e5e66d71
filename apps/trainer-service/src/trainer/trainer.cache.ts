import { type LoadedStream } from '@causeway/cqrs-core';

/**
 * The trainers this instance loaded or saved last, as they were right after the load or the save
 * (least recently used dropped beyond `capacity`). A command for a cached trainer skips the load: commands of one
 * trainer go to one instance (partitioned by trainer id), so the cache is almost always current.
 * When it is not — another instance appended meanwhile — the append with the cached version as
 * expected version fails with a concurrency conflict, the entry is dropped and the retry loads
 * the stream: a stale entry costs one retry, never a lost update.
 */
export class TrainerCache<State> {
  private readonly entries = new Map<string, LoadedStream<State>>();

  constructor(private readonly capacity = 10_000) {}

  get(streamId: string): LoadedStream<State> | undefined {
    const entry = this.entries.get(streamId);
    if (entry) {
      this.entries.delete(streamId);
      this.entries.set(streamId, entry);
    }
    return entry;
  }

  set(entry: LoadedStream<State>): void {
    this.entries.delete(entry.streamId);
    this.entries.set(entry.streamId, entry);
    if (this.entries.size > this.capacity)
      this.entries.delete(this.entries.keys().next().value as string);
  }

  drop(streamId: string): void {
    this.entries.delete(streamId);
  }
}
