import { randomUUID } from 'node:crypto';
import { type DeduplicationClaim, type DeduplicationStore } from './deduplication-store.port';
import { checkClaimLeaseMs, checkCompleteTtlMs } from './deduplication-store.rules';

type Entry =
  | { state: 'claimed'; token: string; expiresAt: number }
  | { state: 'done'; result?: string; expiresAt: number };

/** How often, at most, expired keys are swept (on a claim). */
const SWEEP_INTERVAL_MS = 1_000;

/**
 * Deduplication in process memory: for one process only (embedded mode, tests). An expired key
 * is dropped when it is looked up, and all of them at most once a second on a claim: message
 * ids are rarely looked up again, so without the sweep every id ever claimed would be held.
 */
export class InMemoryDeduplicationStore implements DeduplicationStore {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private nextSweep = 0;

  constructor(options: { /** Default Date.now. */ now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Keys held now (expired ones not swept yet included). */
  get size(): number {
    return this.entries.size;
  }

  async claim(key: string, leaseMs: number): Promise<DeduplicationClaim> {
    checkClaimLeaseMs(leaseMs);
    this.sweep();
    const entry = this.live(key);
    if (entry?.state === 'done')
      return entry.result === undefined
        ? { state: 'done' }
        : { state: 'done', result: entry.result };
    if (entry) return { state: 'busy' };
    const token = randomUUID();
    this.entries.set(key, { state: 'claimed', token, expiresAt: this.now() + leaseMs });
    return { state: 'claimed', token };
  }

  async complete(key: string, token: string, ttlMs: number, result?: string): Promise<boolean> {
    checkCompleteTtlMs(ttlMs);
    // A lapsed claim nobody took since is stored too: the handling did take place.
    if (this.live(key) && !this.holds(key, token)) return false;
    const expiresAt = this.now() + ttlMs;
    this.entries.set(
      key,
      result === undefined ? { state: 'done', expiresAt } : { state: 'done', result, expiresAt },
    );
    return true;
  }

  async renew(key: string, token: string, leaseMs: number): Promise<boolean> {
    checkClaimLeaseMs(leaseMs);
    if (!this.holds(key, token)) return false;
    this.entries.set(key, { state: 'claimed', token, expiresAt: this.now() + leaseMs });
    return true;
  }

  async release(key: string, token: string): Promise<void> {
    if (this.holds(key, token)) this.entries.delete(key);
  }

  private holds(key: string, token: string): boolean {
    const entry = this.live(key);
    return entry?.state === 'claimed' && entry.token === token;
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
    this.nextSweep = now + SWEEP_INTERVAL_MS;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
