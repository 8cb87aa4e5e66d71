import { type CommandStatus } from '@causeway/contracts';
import { type CommandStatusStore, FAILED_REASON_PREFIX } from './command-status.port';

export interface InMemoryCommandStatusStoreOptions {
  /** How long an entry is kept after its last write. Default 24 h. */
  retentionMs?: number;
  /** Default Date.now; inject a clock for deterministic tests. */
  now?: () => number;
  /**
   * Statuses kept at most (default 100 000, ~73 MB): beyond, the oldest write is forgotten
   * (its GET answers 404 as after its retention). Without it the store holds every command of
   * a whole retention window: ~730 B each, 3 GB a day at 50 commands/s.
   */
  maxEntries?: number;
}

export const DEFAULT_MAX_COMMAND_STATUSES = 100_000;

/**
 * Command statuses in this process (embedded mode, tests). Single-threaded JavaScript makes
 * "first outcome wins" trivially atomic. Expired entries are dropped on read and swept on write,
 * and beyond `maxEntries` the oldest write goes: memory stays bounded by the smaller of one
 * retention window's commands and `maxEntries`.
 */
export class InMemoryCommandStatusStore implements CommandStatusStore {
  private readonly entries = new Map<string, { status: CommandStatus; expiresAt: number }>();
  private readonly retentionMs: number;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private nextSweep = 0;

  constructor(options: InMemoryCommandStatusStoreOptions = {}) {
    this.retentionMs = options.retentionMs ?? 86_400_000;
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_COMMAND_STATUSES;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1)
      throw new TypeError(
        `InMemoryCommandStatusStore: maxEntries must be a positive integer, got ${String(this.maxEntries)}`,
      );
  }

  /** Statuses held now (expired ones not swept yet included). */
  get size(): number {
    return this.entries.size;
  }

  async accepted(status: {
    commandId: string;
    type: string;
    issuerId: string;
    acceptedAt: string;
    deadline?: string;
  }): Promise<void> {
    this.sweep();
    if (this.live(status.commandId)) return;
    this.write({ ...status, status: 'accepted' });
  }

  async complete(outcome: Parameters<CommandStatusStore['complete']>[0]): Promise<void> {
    this.sweep();
    const current = this.live(outcome.commandId);
    // The first outcome wins, except that a dead letter's failure (`rejected`, `failed: …`)
    // gives way to `processed`: a replay of the letter applied it.
    if (current && current.status !== 'accepted' && !supersedes(current, outcome.status)) return;
    this.write({
      commandId: outcome.commandId,
      type: outcome.type,
      issuerId: outcome.issuerId,
      status: outcome.status,
      acceptedAt: current?.acceptedAt ?? outcome.completedAt,
      ...(current?.deadline !== undefined && { deadline: current.deadline }),
      completedAt: outcome.completedAt,
      ...(outcome.reason !== undefined && { reason: outcome.reason }),
      ...(outcome.version !== undefined && { version: outcome.version }),
    });
  }

  async get(commandId: string): Promise<CommandStatus | undefined> {
    const status = this.live(commandId);
    return status ? structuredClone(status) : undefined;
  }

  private live(commandId: string): CommandStatus | undefined {
    const entry = this.entries.get(commandId);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(commandId);
      return undefined;
    }
    return entry.status;
  }

  private write(status: CommandStatus): void {
    // Re-inserted on every write: Map order is then oldest write first, as expiresAt is.
    this.entries.delete(status.commandId);
    this.entries.set(status.commandId, { status, expiresAt: this.now() + this.retentionMs });
    while (this.entries.size > this.maxEntries)
      this.entries.delete(this.entries.keys().next().value as string);
  }

  private sweep(): void {
    const now = this.now();
    if (now < this.nextSweep) return;
    this.nextSweep = now + Math.min(this.retentionMs, 60_000);
    // Oldest write first: stop at the first live one (a sweep costs what it removes).
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(id);
    }
  }
}

/** Whether `next` replaces a recorded outcome: only `processed` over a dead letter's failure. */
function supersedes(current: CommandStatus, next: 'processed' | 'rejected'): boolean {
  return (
    next === 'processed' &&
    current.status === 'rejected' &&
    !!current.reason?.startsWith(FAILED_REASON_PREFIX)
  );
}
