import { randomUUID } from 'node:crypto';
import { type DeduplicationStore } from './deduplication-store.port';

interface Entry {
  value: string;
  expiresAt: number;
}

/** Deduplication in process memory: for one process only (embedded mode, tests). */
export class InMemoryDeduplicationStore implements DeduplicationStore {
  private readonly entries = new Map<string, Entry>();

  async claim(
    key: string,
    leaseMs: number,
  ): Promise<{ state: 'claimed'; token: string } | { state: 'done' | 'busy' }> {
    const entry = this.live(key);
    if (entry?.value === 'done') return { state: 'done' };
    if (entry) return { state: 'busy' };
    const token = randomUUID();
    this.entries.set(key, { value: token, expiresAt: Date.now() + leaseMs });
    return { state: 'claimed', token };
  }

  async complete(key: string, token: string, ttlMs: number): Promise<void> {
    if (this.live(key)?.value === token)
      this.entries.set(key, { value: 'done', expiresAt: Date.now() + ttlMs });
  }

  async release(key: string, token: string): Promise<void> {
    if (this.live(key)?.value === token) this.entries.delete(key);
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
