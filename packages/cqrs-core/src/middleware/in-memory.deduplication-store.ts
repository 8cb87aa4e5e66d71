import { randomUUID } from 'node:crypto';
import { type DeduplicationClaim, type DeduplicationStore } from './deduplication-store.port';

type Entry =
  | { state: 'claimed'; token: string; expiresAt: number }
  | { state: 'done'; result?: string; expiresAt: number };

/** Deduplication in process memory: for one process only (embedded mode, tests). */
export class InMemoryDeduplicationStore implements DeduplicationStore {
  private readonly entries = new Map<string, Entry>();

  async claim(key: string, leaseMs: number): Promise<DeduplicationClaim> {
    const entry = this.live(key);
    if (entry?.state === 'done')
      return entry.result === undefined
        ? { state: 'done' }
        : { state: 'done', result: entry.result };
    if (entry) return { state: 'busy' };
    const token = randomUUID();
    this.entries.set(key, { state: 'claimed', token, expiresAt: Date.now() + leaseMs });
    return { state: 'claimed', token };
  }

  async complete(key: string, token: string, ttlMs: number, result?: string): Promise<void> {
    if (!this.holds(key, token)) return;
    const expiresAt = Date.now() + ttlMs;
    this.entries.set(
      key,
      result === undefined ? { state: 'done', expiresAt } : { state: 'done', result, expiresAt },
    );
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
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
