import { Notification } from '@causeway/contracts';

/**
 * Log ids are Redis stream ids, `<epoch ms>-<sequence>`, in every implementation: the in-memory
 * log produces the same shape so that ids, comparison and age checks are one rule everywhere.
 */
const LOG_ID = /^(\d{1,15})-(\d{1,15})$/;

/** Whether `id` is a well-formed log id (a client-supplied Last-Event-ID may be anything). */
export function isLogId(id: string): boolean {
  return LOG_ID.test(id);
}

/** The epoch ms a log id was created at. Throws on a malformed id. */
export function logIdTime(id: string): number {
  return parseLogId(id)[0];
}

/** Orders two well-formed log ids: negative when `a` was appended before `b`. */
export function compareLogIds(a: string, b: string): number {
  const [aMs, aSeq] = parseLogId(a);
  const [bMs, bSeq] = parseLogId(b);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

function parseLogId(id: string): [number, number] {
  const match = LOG_ID.exec(id);
  if (!match) throw new Error(`"${id}" is not a log id (<epoch ms>-<sequence>)`);
  return [Number(match[1]), Number(match[2])];
}

/**
 * Throws a TypeError naming the first field of `notification` that the Notification schema
 * refuses (`NotificationLog.append: targetType: …`): every log refuses it before it stores
 * anything, rather than store what its readers would drop (Redis) or choke on (memory).
 */
export function checkNotification(notification: unknown): void {
  const parsed = Notification.safeParse(notification);
  if (parsed.success) return;
  const [issue] = parsed.error.issues;
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'the notification';
  throw new TypeError(`NotificationLog.append: ${field}: ${issue?.message ?? 'invalid'}`);
}
