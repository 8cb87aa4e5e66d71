/** Retention of a notification log (both implementations). */
export interface NotificationLogRetention {
  /**
   * Entries kept at most (a whole number, at least 1). Default 10 000. The Redis log trims once
   * it is 100 over, and by at most 1 000 entries an append (a max length lowered a long way is
   * reached over several appends).
   */
  maxLength?: number;
  /** Entries older than this are trimmed on append (whole ms, at least 1). Default 24 h. */
  retentionMs?: number;
  /**
   * How long an appended notificationId is remembered, so that appending it again stores nothing
   * (the dedup window): default and at least `retentionMs`. Longer for a producer that may tell
   * a notification again later than the retention (order-processor: a task's last event, told
   * again by a redelivery within PROGRESS_HISTORY_TTL_MS). Only the id's first log id is kept.
   */
  dedupMs?: number;
}

/**
 * The max length and retention of `options`, their defaults for those not given. A max length
 * below 1 or a retention below 1 ms would trim the entry just appended: refused, naming it.
 */
export function retentionOf(options: NotificationLogRetention): {
  maxLength: number;
  retentionMs: number;
} {
  const { maxLength = DEFAULT_LOG_MAX_LENGTH, retentionMs = DEFAULT_LOG_RETENTION_MS } = options;
  if (!Number.isSafeInteger(maxLength) || maxLength < 1)
    throw new RangeError(
      `notification log: options.maxLength must be a whole number of entries, at least 1, got ${JSON.stringify(maxLength)}`,
    );
  if (!Number.isSafeInteger(retentionMs) || retentionMs < 1)
    throw new RangeError(
      `notification log: options.retentionMs must be whole milliseconds, at least 1, got ${JSON.stringify(retentionMs)}`,
    );
  return { maxLength, retentionMs };
}

/** The dedup window of `options`: `dedupMs`, no shorter than the retention. */
export function dedupWindowOf(options: NotificationLogRetention, retentionMs: number): number {
  const dedupMs = options.dedupMs;
  if (dedupMs === undefined) return retentionMs;
  if (!Number.isSafeInteger(dedupMs) || dedupMs < retentionMs)
    throw new RangeError(
      `notification log: options.dedupMs must be whole milliseconds, at least retentionMs (${retentionMs}), got ${JSON.stringify(dedupMs)}`,
    );
  return dedupMs;
}

export const DEFAULT_LOG_MAX_LENGTH = 10_000;
export const DEFAULT_LOG_RETENTION_MS = 24 * 60 * 60 * 1000;
