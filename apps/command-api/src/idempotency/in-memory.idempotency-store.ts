import { randomUUID } from 'node:crypto';
import {
  type IdempotencyBegin,
  type IdempotencyStart,
  type IdempotencyStore,
  type StoredAnswer,
} from './idempotency-store.port';

interface Entry {
  /**
   * The request the key is bound to; absent after a plain release (the key is free for any
   * request). Kept through a release with keepStart and a lapsed lease: that request may have
   * sent a command, so the key serves only its retries.
   */
  fingerprint?: string;
  /** While in flight, until `leaseUntil`. */
  token?: string;
  leaseUntil?: number;
  answer?: StoredAnswer;
  /** The `at` of the first `begin` that started the key. */
  startedAt: number;
  /** While in flight: the key as the begin that took it found it (what `abandon` restores). */
  before?: Entry;
  expiresAt: number;
}

/** Answers kept at most, by default: ~100 MB at the largest answers command-api stores. */
export const DEFAULT_MAX_IDEMPOTENCY_ENTRIES = 100_000;

/**
 * Idempotency keys in this process (embedded mode, tests); expired keys are swept on write. At
 * most `maxEntries` are kept: a new key beyond it pushes out the oldest key no request holds (a
 * stored answer — a retry of that request then runs again — or a released key's start time),
 * never a request still in flight. Without the bound, one
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

  /** Keys held now (answers, requests in flight, start times kept after a release). */
  get size(): number {
    return this.entries.size;
  }

  async begin(
    key: string,
    fingerprint: string,
    leaseMs: number,
    start: IdempotencyStart,
  ): Promise<IdempotencyBegin> {
    this.sweep();
    const now = this.now();
    const entry = this.live(key);
    if (entry?.fingerprint !== undefined && entry.fingerprint !== fingerprint)
      return { state: 'mismatch' };
    if (entry && (entry.answer || this.holds(entry, now))) {
      if (entry.answer) return { state: 'completed', answer: structuredClone(entry.answer) };
      return { state: 'in-flight' };
    }
    // Free: new, released, or its holder's lease lapsed. A new key may push out an old one.
    if (!entry && this.entries.size >= this.maxEntries) this.evictOldestSettled(now);
    const token = start.token ?? randomUUID();
    const startedAt = entry?.startedAt ?? start.at;
    this.entries.delete(key); // to the end of the insertion order: the newest
    this.entries.set(key, {
      fingerprint,
      token,
      leaseUntil: now + leaseMs,
      startedAt,
      expiresAt: Math.max(entry?.expiresAt ?? 0, now + Math.max(leaseMs, start.keepMs)),
      ...(entry && {
        before: {
          ...(entry.fingerprint !== undefined && { fingerprint: entry.fingerprint }),
          startedAt: entry.startedAt,
          expiresAt: entry.expiresAt,
        },
      }),
    });
    return { state: 'started', token, startedAt, resumed: entry !== undefined };
  }

  async complete(key: string, token: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    const entry = this.live(key);
    if (!entry || entry.token !== token || !this.holds(entry, this.now())) return;
    this.entries.set(key, {
      fingerprint: entry.fingerprint,
      answer: structuredClone(answer),
      startedAt: entry.startedAt,
      expiresAt: this.now() + ttlMs,
    });
  }

  /**
   * Frees the key at once: for any request, or with `keepStart` for retries of the same one,
   * keeping its start time.
   */
  async release(key: string, token: string, options: { keepStart?: boolean } = {}): Promise<void> {
    const entry = this.live(key);
    if (!entry || entry.token !== token) return;
    if (options.keepStart)
      this.entries.set(key, {
        fingerprint: entry.fingerprint,
        startedAt: entry.startedAt,
        expiresAt: entry.expiresAt,
      });
    else this.entries.delete(key);
  }

  /** Puts the key back as the begin that took it with `token` found it. */
  async abandon(key: string, token: string): Promise<void> {
    const entry = this.live(key);
    if (!entry || entry.token !== token || entry.answer) return;
    if (entry.before) this.entries.set(key, entry.before);
    else this.entries.delete(key);
  }

  /** Whether a request holds the entry's key now (in flight, its lease not lapsed). */
  private holds(entry: Entry, now: number): boolean {
    return entry.token !== undefined && (entry.leaseUntil ?? 0) > now;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Map order is insertion order: the first entry no request holds (an answer, or a start time
   * kept after a release or a lapsed lease) is the oldest one.
   */
  private evictOldestSettled(now: number): void {
    for (const [key, entry] of this.entries)
      if (!this.holds(entry, now)) {
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
