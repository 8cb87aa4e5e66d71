import { type NotificationLogRetention } from '@causeway/platform';

/**
 * How order-processor's notification log is kept: the log's own length and retention (shared
 * with the moves), and a dedup window of PROGRESS_HISTORY_TTL_MS when that is longer. A
 * delivery tells its task's last stored event again (a crash may have left it untold), and a
 * late one (a dead letter replayed within the TTL) came after the log had forgotten that
 * event's id: the user's live stream got it a second time (a second "done"). The window is
 * set in the append that tells the event, so no crash leaves it told but not remembered; an
 * event never told has no id remembered and is told. Only ids are kept that long (one small
 * key per event, for the TTL): the entries still go at the log's retention.
 */
export function progressLogOptions(config: {
  NOTIFICATION_LOG_MAX_LENGTH: number;
  NOTIFICATION_LOG_RETENTION_MS: number;
  PROGRESS_HISTORY_TTL_MS: number;
}): Required<NotificationLogRetention> {
  return {
    maxLength: config.NOTIFICATION_LOG_MAX_LENGTH,
    retentionMs: config.NOTIFICATION_LOG_RETENTION_MS,
    dedupMs: Math.max(config.NOTIFICATION_LOG_RETENTION_MS, config.PROGRESS_HISTORY_TTL_MS),
  };
}
