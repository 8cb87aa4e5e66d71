import { randomUUID } from 'node:crypto';
import {
  type IdempotencyBegin,
  type IdempotencyStore,
  type StoredAnswer,
} from './idempotency-store.port';

interface Entry {
  fingerprint: string;
  token?: string;
  answer?: StoredAnswer;
  expiresAt: number;
}

/** Answers kept at most, by default: ~100 MB at the largest answers command-api stores. */
export const DEFAULT_MAX_IDEMPOTENCY_ENTRIES = 100_000;

/**
 * Idempotency keys in this process (embedded mode, tests); expired keys are swept on write. At
 * most `maxEntries` are kept: a new key beyond it pushes out the oldest stored answer (a retry
 * of that request then runs again), never a request still in flight. Without the bound, one
 * caller at its rate limit could fill memory with keys for their whole TTL.
 */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private nextSweep = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxEntries = DEFAULT_MAX_IDEMPOTENCY_ENTRIES,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new TypeError(
        `InMemoryIdempotencyStore: maxEntries must be a positive integer, got ${String(maxEntries)}`,
      );
  }

  /** Keys held now (answers and requests in flight). */
  get size(): number {
    return this.entries.size;
  }

  async begin(key: string, fingerprint: string, leaseMs: number): Promise<IdempotencyBegin> {
    this.sweep();
    const entry = this.live(key);
    if (!entry) {
      if (this.entries.size >= this.maxEntries) this.evictOldestAnswer();
      const token = randomUUID();
      this.entries.set(key, { fingerprint, token, expiresAt: this.now() + leaseMs });
      return { state: 'started', token };
    }
    if (entry.fingerprint !== fingerprint) return { state: 'mismatch' };
    if (entry.answer) return { state: 'completed', answer: structuredClone(entry.answer) };
    return { state: 'in-flight' };
  }

  async complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    const entry = this.live(key);
    if (entry?.token !== token) return;
    this.entries.set(key, {
      fingerprint: entry.fingerprint,
      answer: structuredClone(answer),
      expiresAt: this.now() + ttlMs,
    });
  }

  async release(key: string, token: string): Promise<void> {
    if (this.live(key)?.token === token) this.entries.delete(key);
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Map order is insertion order: the first entry with an answer is the oldest one. */
  private evictOldestAnswer(): void {
    for (const [key, entry] of this.entries)
      if (entry.answer) {
        this.entries.delete(key);
        return;
      }
  }

  private sweep(): void {
    const now = this.now();
    if (now < this.nextSweep) return;
    this.nextSweep = now + 60_000;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
