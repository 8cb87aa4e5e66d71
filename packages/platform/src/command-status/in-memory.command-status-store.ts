import { type CommandStatus } from '@causeway/contracts';
import { type CommandStatusStore, FAILED_REASON_PREFIX } from './command-status.port';

export interface InMemoryCommandStatusStoreOptions {
  /** How long an entry is kept after its last write. Default 24 h. */
  retentionMs?: number;
  /** Default Date.now; inject a clock for deterministic tests. */
  now?: () => number;
}

/**
 * Command statuses in this process (embedded mode, tests). Single-threaded JavaScript makes
 * "first outcome wins" trivially atomic. Expired entries are dropped on read and swept on write,
 * so memory stays bounded by the commands of one retention window.
 */
export class InMemoryCommandStatusStore implements CommandStatusStore {
  private readonly entries = new Map<string, { status: CommandStatus; expiresAt: number }>();
  private readonly retentionMs: number;
  private readonly now: () => number;
  private nextSweep = 0;

  constructor(options: InMemoryCommandStatusStoreOptions = {}) {
    this.retentionMs = options.retentionMs ?? 86_400_000;
    this.now = options.now ?? Date.now;
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
    this.entries.set(status.commandId, { status, expiresAt: this.now() + this.retentionMs });
  }

  private sweep(): void {
    const now = this.now();
    if (now < this.nextSweep) return;
    this.nextSweep = now + Math.min(this.retentionMs, 60_000);
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(id);
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
