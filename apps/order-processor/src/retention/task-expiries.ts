import type Redis from 'ioredis';

/**
 * When each task's stream last changed, so retention finds expired streams without scanning
 * the event store (which can list no streams). The event store stays the truth: the job reads a
 * due task's last event before deleting it.
 *
 * Contract: `touch` records the time of a task's latest event (a later call with an older time
 * keeps the newer one); `due(before, limit)` lists at most `limit` tasks whose time is < before,
 * oldest first; `forget` removes a task.
 */
export interface TaskExpiries {
  touch(taskId: string, atMs: number): Promise<void>;
  due(beforeMs: number, limit: number): Promise<string[]>;
  forget(taskId: string): Promise<void>;
}

/** In process (tests, a single instance): a map. */
export class InMemoryTaskExpiries implements TaskExpiries {
  private readonly times = new Map<string, number>();

  async touch(taskId: string, atMs: number): Promise<void> {
    this.times.set(taskId, Math.max(atMs, this.times.get(taskId) ?? -Infinity));
  }

  async due(beforeMs: number, limit: number): Promise<string[]> {
    return [...this.times]
      .filter(([, at]) => at < beforeMs)
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, limit)
      .map(([taskId]) => taskId);
  }

  async forget(taskId: string): Promise<void> {
    this.times.delete(taskId);
  }
}

/** In Redis, shared by every instance: one sorted set `<prefix>progress:expiries` (score = ms). */
export class RedisTaskExpiries implements TaskExpiries {
  private readonly key: string;

  constructor(
    private readonly client: Redis,
    options: { keyPrefix?: string } = {},
  ) {
    this.key = `${options.keyPrefix ?? ''}progress:expiries`;
  }

  async touch(taskId: string, atMs: number): Promise<void> {
    // GT: an older time (a redelivery re-telling stored events) never moves a task back.
    await this.client.zadd(this.key, 'GT', atMs, taskId);
  }

  async due(beforeMs: number, limit: number): Promise<string[]> {
    return this.client.zrangebyscore(this.key, '-inf', `(${beforeMs}`, 'LIMIT', 0, limit);
  }

  async forget(taskId: string): Promise<void> {
    await this.client.zrem(this.key, taskId);
  }
}
