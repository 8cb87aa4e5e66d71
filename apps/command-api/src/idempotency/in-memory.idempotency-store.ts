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

/** Idempotency keys in this process (embedded mode, tests); expired keys are swept on write. */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private nextSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async begin(key: string, fingerprint: string, leaseMs: number): Promise<IdempotencyBegin> {
    this.sweep();
    const entry = this.live(key);
    if (!entry) {
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

  private sweep(): void {
    const now = this.now();
    if (now < this.nextSweep) return;
    this.nextSweep = now + 60_000;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
