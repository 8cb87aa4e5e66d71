import { type ProgressStatus } from '@causeway/contracts';
import {
  byRecentUpdate,
  DEFAULT_TASKS_PER_USER,
  isAfter,
  type ProgressStatuses,
  type TaskPosition,
} from './progress-statuses.port';

export interface InMemoryProgressStatusesOptions {
  /** How long a status is kept after its `updatedAt` (S3-7). */
  ttlMs: number;
  /** Epoch ms now; Date.now by default. */
  now?: () => number;
}

/** ProgressStatuses in process memory (embedded mode, tests). Passes `describeProgressStatuses`. */
export class InMemoryProgressStatuses implements ProgressStatuses {
  private readonly rows = new Map<string, ProgressStatus>();
  private readonly now: () => number;

  constructor(private readonly options: InMemoryProgressStatusesOptions) {
    this.now = options.now ?? Date.now;
  }

  async apply(status: ProgressStatus): Promise<boolean> {
    this.forgetExpired();
    if (this.expired(status)) return false;
    const stored = this.rows.get(status.taskId);
    if (stored && stored.eventCount >= status.eventCount) return false;
    this.rows.set(status.taskId, { ...status });
    return true;
  }

  async get(taskId: string): Promise<ProgressStatus | undefined> {
    this.forgetExpired();
    const row = this.rows.get(taskId);
    return row && { ...row };
  }

  async ofUser(
    userId: string,
    limit = DEFAULT_TASKS_PER_USER,
    before?: TaskPosition,
  ): Promise<ProgressStatus[]> {
    this.forgetExpired();
    return [...this.rows.values()]
      .filter((row) => row.userId === userId && isAfter(row, before))
      .sort(byRecentUpdate)
      .slice(0, limit)
      .map((row) => ({ ...row }));
  }

  private expired(row: ProgressStatus): boolean {
    return Date.parse(row.updatedAt) + this.options.ttlMs <= this.now();
  }

  private forgetExpired(): void {
    for (const [taskId, row] of this.rows) if (this.expired(row)) this.rows.delete(taskId);
  }
}
