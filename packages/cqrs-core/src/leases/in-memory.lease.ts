import { type Lease } from './lease.port';
import { checkLeaseTtlMs } from './lease.rules';

/** Where in-memory leases of one "deployment" live; share one table between competing holders. */
export type InMemoryLeaseTable = Map<string, { holder: object; expiresAt: number }>;

/** A lease in process memory (embedded mode, tests). Passes `describeLeaseConformance`. */
export class InMemoryLease implements Lease {
  private readonly self = {};

  constructor(
    private readonly table: InMemoryLeaseTable,
    private readonly key: string,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    checkLeaseTtlMs(ttlMs);
  }

  async acquire(): Promise<boolean> {
    const entry = this.table.get(this.key);
    const now = this.now();
    if (entry && entry.holder !== this.self && entry.expiresAt > now) return false;
    this.table.set(this.key, { holder: this.self, expiresAt: now + this.ttlMs });
    return true;
  }

  async release(): Promise<void> {
    if (this.table.get(this.key)?.holder === this.self) this.table.delete(this.key);
  }
}
