/** Retention of a notification log (both implementations). */
export interface NotificationLogRetention {
  /**
   * Entries kept at most. Default 10 000. The Redis log trims once it is 100 over, and by at most
   * 1 000 entries an append (a max length lowered a long way is reached over several appends).
   */
  maxLength?: number;
  /** Entries older than this are trimmed on append; also the dedup window. Default 24 h. */
  retentionMs?: number;
}

export const DEFAULT_LOG_MAX_LENGTH = 10_000;
export const DEFAULT_LOG_RETENTION_MS = 24 * 60 * 60 * 1000;
