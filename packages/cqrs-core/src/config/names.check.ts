import { shownValue } from './shown-value';

/**
 * The longest `service` or `instanceId`: both go into consumer group and reply topic names,
 * which Kafka caps at 249 characters with the topic prefix and the handler's name.
 */
export const MAX_NAME_LENGTH = 200;

/**
 * Checks a `service` or `instanceId` option: a string of 1 to MAX_NAME_LENGTH characters
 * without whitespace or control characters. They name consumer groups and reply topics and
 * label every log line and metric: a number, a blank or padded name, or one with a space or a
 * line break was taken as long as it was not empty, and broke or split those far from the
 * setting (Kafka refuses such a topic; `"svc "` and `"svc"` are two services to Prometheus).
 * The Router checks them (it names the groups), and the Nest modules too, before they build one.
 * @param owner what the message names first, e.g. `Router` or `CqrsCoreModule`
 * @throws TypeError naming the option and the value given
 */
export function checkName(owner: string, option: string, value: unknown): void {
  if (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_NAME_LENGTH &&
    !/[\s\p{Cc}]/u.test(value)
  )
    return;
  const shown =
    typeof value === 'string' && value.length > MAX_NAME_LENGTH
      ? `a string of ${value.length} characters`
      : shownValue(value);
  throw new TypeError(
    `${owner}: options.${option} must be a string of 1 to ${MAX_NAME_LENGTH} characters ` +
      `without whitespace, got ${shown}`,
  );
}
