import { shownValue } from '../config/shown-value';
import { type DeadLetterFilter, type NewDeadLetter } from './dead-letter-queue.port';

/**
 * Checks a letter before a queue stores anything: an object whose `originalTopic` and
 * `handler` are non-empty strings (a replay publishes to the topic; `stats` counts by it).
 * Every DeadLetterQueue's `add` calls it, so a letter MongoDB refused (a missing required
 * field) while Redis and memory kept it is refused alike everywhere.
 * @throws TypeError naming the field and the value given
 */
export function checkNewDeadLetter(letter: unknown): asserts letter is NewDeadLetter {
  if (typeof letter !== 'object' || letter === null)
    throw new TypeError(`dead letter must be an object, got ${shownValue(letter)}`);
  for (const field of ['originalTopic', 'handler'] as const) {
    const value: unknown = (letter as Partial<NewDeadLetter>)[field];
    if (typeof value !== 'string' || value.length === 0)
      throw new TypeError(
        `dead letter ${field} must be a non-empty string, got ${shownValue(value)}`,
      );
  }
}

/** The filter fields that select by text: given, each must be a non-empty string. */
const TEXT_FIELDS = ['originalTopic', 'handler', 'type', 'reason', 'errorName'] as const;

/**
 * Checks a filter before a queue reads anything (`list`, `replay`, `purge`): an object, its
 * text fields (`originalTopic`, `handler`, `type`, `reason`, `errorName`), when given, non-empty
 * strings, its `limit` a non-negative safe integer, its `deadLetteredBefore` an ISO-8601
 * date-time with a time zone. Every queue calls it, so `limit: -1` (all
 * but the last letter in memory, none elsewhere) and `limit: 1.5` are refused alike, and so is
 * `purge({ originalTopic: '' })` — an empty field was taken for no field: every letter.
 * @throws TypeError naming the field (or the filter) and the value given
 */
export function checkDeadLetterFilter(filter: unknown): asserts filter is DeadLetterFilter {
  if (typeof filter !== 'object' || filter === null)
    throw new TypeError(`dead-letter filter must be an object, got ${shownValue(filter)}`);
  for (const field of TEXT_FIELDS) {
    const value: unknown = (filter as DeadLetterFilter)[field];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0))
      throw new TypeError(`${field} must be a non-empty string, got ${shownValue(value)}`);
  }
  const limit: unknown = (filter as DeadLetterFilter).limit;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && (limit as number) >= 0))
    throw new TypeError(
      `limit must be a non-negative integer (at most ${Number.MAX_SAFE_INTEGER}), got ${shownValue(limit)}`,
    );
  const before: unknown = (filter as DeadLetterFilter).deadLetteredBefore;
  // A cutoff that is no date would match nothing (or, read loosely, everything): refused.
  if (before !== undefined && !isCutoff(before))
    throw new TypeError(`deadLetteredBefore ${CUTOFF_RULE}, got ${shownValue(before)}`);
}

/** What a `deadLetteredBefore` must be, as the errors refusing one say it. */
export const CUTOFF_RULE = 'must be an ISO-8601 date-time (e.g. 2026-01-31T12:00:00.000Z)';

/** Whether `value` is a `deadLetteredBefore` every queue takes: a date-time with a time zone. */
export function isCutoff(value: unknown): value is string {
  return (
    typeof value === 'string' && ISO_DATE_TIME.test(value) && Number.isFinite(Date.parse(value))
  );
}

/** A date-time with a time zone, as Date.prototype.toISOString writes (offsets allowed). */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
