import { type Notification } from '@causeway/contracts';
import { NotificationDeliveryError } from './notification-delivery.error';
import { checkNotification, compareLogIds, isLogId } from './notification-log.ids';
import {
  dedupWindowOf,
  type NotificationLogRetention,
  retentionOf,
} from './notification-log.options';
import {
  FOLLOW_READ_MAX_MS,
  type LoggedNotification,
  type NewestNotification,
  type NotificationLog,
  type NotificationOrder,
} from './notification-log.port';

export interface InMemoryNotificationLogOptions extends NotificationLogRetention {
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
  /**
   * Called, with a NotificationDeliveryError, when a follower's `onEntries` threw: the follower
   * passes that batch over and goes on, as the Redis log's does (whose option of the same name
   * hears of it too, and of its failed reads).
   */
  onFollowError?: (error: Error) => void;
}

/**
 * The notification log of the embedded mode: one process, ids shaped like Redis stream ids
 * (`<ms>-<seq>`), exact trimming by count and age. Followers are woken on append and never
 * overlap their own `onEntries` calls.
 */
export class InMemoryNotificationLog implements NotificationLog {
  private entries: LoggedNotification[] = [];
  /** notificationId → first id and when it was appended (kept for the dedup window). */
  private readonly appended = new Map<string, { id: string; at: number }>();
  /** Order key → newest entry appended under it (re-inserted on update: oldest first). */
  private readonly heads = new Map<string, NewestNotification>();
  private readonly wakers = new Set<() => void>();
  private lastMs = 0;
  private lastSeq = 0;
  /**
   * The newest id appended, removed or trimmed since or not (lastAppendedId). A holder, changed
   * in place, as `entries` is: a log wrapped by Object.create (tests) appends through the wrapper.
   */
  private readonly lastAppended: { id?: string } = {};
  /**
   * The newest entry the trimming took and the oldest it left (trimmedThrough), in a holder like
   * lastAppended.
   */
  private readonly trimmed: { id?: string; oldestLeft?: string } = {};
  private readonly maxLength: number;
  private readonly retentionMs: number;
  private readonly dedupMs: number;
  private readonly now: () => number;
  private readonly onFollowError: ((error: Error) => void) | undefined;
  private closed = false;

  constructor(options: InMemoryNotificationLogOptions = {}) {
    ({ maxLength: this.maxLength, retentionMs: this.retentionMs } = retentionOf(options));
    this.dedupMs = dedupWindowOf(options, this.retentionMs);
    this.now = options.now ?? Date.now;
    this.onFollowError = options.onFollowError;
  }

  append(notification: Notification): Promise<string>;
  append(notification: Notification, order: NotificationOrder): Promise<string | undefined>;
  async append(notification: Notification, order?: NotificationOrder): Promise<string | undefined> {
    checkNotification(notification);
    const now = this.now();
    this.forgetExpired(now);
    const first = this.appended.get(notification.notificationId);
    if (first) return first.id;
    if (order) {
      const newest = this.heads.get(order.key)?.version ?? 0;
      if (newest >= order.version) return undefined;
      if (order.previous !== undefined && newest < order.previous) return undefined;
    }
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    const id = `${this.lastMs}-${this.lastSeq}`;
    this.entries.push({ id, at: this.lastMs, notification });
    this.lastAppended.id = id;
    if (order) {
      this.heads.delete(order.key);
      this.heads.set(order.key, { id, at: this.lastMs, notification, version: order.version });
    }
    this.appended.set(notification.notificationId, { id, at: now });
    this.trim(now);
    for (const wake of [...this.wakers]) wake();
    return id;
  }

  async idOf(notificationId: string): Promise<string | undefined> {
    this.forgetExpired(this.now());
    return this.appended.get(notificationId)?.id;
  }

  async newest(keys: readonly string[]): Promise<Map<string, NewestNotification>> {
    this.forgetExpired(this.now());
    const found = new Map<string, NewestNotification>();
    for (const key of keys) {
      const head = this.heads.get(key);
      if (head) found.set(key, head);
    }
    return found;
  }

  async read(afterId: string | undefined, limit: number): Promise<LoggedNotification[]> {
    const start = afterId === undefined ? 0 : this.indexAfter(afterId);
    return this.entries.slice(start, start + Math.max(0, limit));
  }

  async follow(
    afterId: string | '$',
    onEntries: (entries: LoggedNotification[]) => Promise<void> | void,
    signal: AbortSignal,
    onRead?: () => void,
    onGap?: (through: string) => void,
  ): Promise<void> {
    let last = afterId === '$' ? (this.entries.at(-1)?.id ?? '0-0') : afterId;
    while (!signal.aborted && !this.closed) {
      // The trimming took entries after `last` while `onEntries` held the follower up.
      const trimmed = this.trimmed.id;
      if (trimmed !== undefined && compareLogIds(trimmed, last) > 0) {
        last = trimmed;
        onGap?.(trimmed);
      }
      const start = this.indexAfter(last);
      const batch = this.entries.slice(start, start + 1000);
      onRead?.();
      if (batch.length > 0) {
        last = batch[batch.length - 1]!.id;
        try {
          await onEntries(batch);
        } catch (error) {
          // As the Redis log: the batch is passed over, the follower goes on (it rejected and
          // ended here, leaving every stream of the embedded gateway without notifications).
          this.onFollowError?.(new NotificationDeliveryError(batch, error));
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        // An idle follower wakes to tell `onRead` it still reads (NotificationLog's contract).
        const timer = setTimeout(() => done(), FOLLOW_READ_MAX_MS);
        const done = (): void => {
          clearTimeout(timer);
          this.wakers.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.wakers.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  async remove(ids: readonly string[]): Promise<number> {
    const removed = new Set(ids);
    const before = this.entries.length;
    this.entries = this.entries.filter((entry) => !removed.has(entry.id));
    return before - this.entries.length;
  }

  async oldestId(): Promise<string | undefined> {
    return this.entries[0]?.id;
  }

  async latestId(): Promise<string | undefined> {
    return this.entries.at(-1)?.id;
  }

  async lastAppendedId(): Promise<string | undefined> {
    return this.lastAppended.id;
  }

  async trimmedThrough(): Promise<string | undefined> {
    // Vouched for only while the oldest entry is the one the trimming left (NotificationLog).
    const oldest = this.entries[0]?.id;
    return oldest !== undefined && oldest === this.trimmed.oldestLeft ? this.trimmed.id : undefined;
  }

  compare(a: string, b: string): number {
    return compareLogIds(a, b);
  }

  isId(id: string): boolean {
    return isLogId(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
  }

  /** Index of the first entry with id > afterId (binary search: ids increase). */
  private indexAfter(afterId: string): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareLogIds(this.entries[mid]!.id, afterId) <= 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private trim(now: number): void {
    const minAt = now - this.retentionMs;
    let drop = Math.max(0, this.entries.length - this.maxLength);
    while (drop < this.entries.length - 1 && this.entries[drop]!.at < minAt) drop += 1;
    if (drop === 0) return;
    this.trimmed.id = this.entries[drop - 1]!.id;
    this.entries = this.entries.slice(drop);
    this.trimmed.oldestLeft = this.entries[0]!.id;
  }

  private forgetExpired(now: number): void {
    // Map iteration is insertion order, i.e. oldest first.
    for (const [notificationId, { at }] of this.appended) {
      if (at >= now - this.dedupMs) break;
      this.appended.delete(notificationId);
    }
    for (const [key, { at }] of this.heads) {
      if (at >= now - this.retentionMs) break;
      this.heads.delete(key);
    }
  }
}
