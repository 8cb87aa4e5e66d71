import { type Envelope, JsonSerializer } from '@causeway/cqrs-core';
import { sampleEvent } from './fixtures';

/** Shared by the transport benchmarks (Redis Streams and Kafka). */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1);
export const scaled = (n: number) => Math.max(100, Math.round((n * SCALE) / 100) * 100);

export const PARTITIONS = 8;
/** Distinct aggregate ids: messages of one id are handled one after another, as in production. */
export const KEYS = 1_000;
export const MAXLEN = 100_000;
export const serializer = new JsonSerializer();

export const messages = (count: number, offset = 0): Envelope[] =>
  Array.from({ length: count }, (_, i) =>
    sampleEvent(`trainer-${(offset + i) % KEYS}`, offset + i),
  );
/** What a raw producer would send: the envelope as JSON, data as text (no checksum). */
export const rawWire = (e: Envelope) => JSON.stringify({ ...e, data: JSON.stringify(e.data) });
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves when `done()` is true, or rejects after `timeoutMs` (every wait is bounded). */
export async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** Counts deliveries and times the first to the last one (joining a group is not measured). */
export class Counter {
  count = 0;
  private first = 0n;
  private last = 0n;

  constructor(readonly expected: number) {}

  hit(): void {
    const now = process.hrtime.bigint();
    if (this.count === 0) this.first = now;
    this.last = now;
    this.count++;
  }

  get done(): boolean {
    return this.count >= this.expected;
  }

  /** Messages per second between the first and the last delivery. */
  get rate(): number {
    return (this.count - 1) / (Number(this.last - this.first) / 1e9);
  }
}
