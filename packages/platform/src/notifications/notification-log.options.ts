/** Retention of a notification log (both implementations). */
export interface NotificationLogRetention {
  /** Entries kept at most (the Redis log trims approximately, in whole stream nodes). Default 10 000. */
  maxLength?: number;
  /** Entries older than this are trimmed on append; also the dedup window. Default 24 h. */
  retentionMs?: number;
}

export const DEFAULT_LOG_MAX_LENGTH = 10_000;
export const DEFAULT_LOG_RETENTION_MS = 24 * 60 * 60 * 1000;
