import { type Notification, type ProgressStatus } from '@causeway/contracts';

/**
 * The frames of the progress streams (ADR 015, SPEC S3-4/S3-5): named events whose `data:` is
 * the payload itself, not a JSON-RPC envelope — `progress` (a ProgressEvent, the params of a
 * `progress.update` notification) and `recovery` (a task's ProgressStatus). JSON.stringify
 * never emits a raw newline, so one `data:` line holds the whole payload.
 */
export function progressEventFrame(id: string, notification: Pick<Notification, 'params'>): string {
  return `event: progress\nid: ${id}\ndata: ${JSON.stringify(notification.params)}\n\n`;
}

/** A task's current state, sent on every (re)connect before any `progress` event. */
export function progressRecoveryFrame(
  id: string,
  status: ProgressStatus,
  retryMs?: number,
): string {
  return `${retryMs === undefined ? '' : `retry: ${retryMs}\n`}event: recovery\nid: ${id}\ndata: ${JSON.stringify(status)}\n\n`;
}
