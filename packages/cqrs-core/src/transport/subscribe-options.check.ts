import { checkTopic } from './topic.check';
import { type SubscribeOptions } from './transport.port';

/** The values SubscribeOptions.startFrom takes. */
export const START_FROM_VALUES: readonly NonNullable<SubscribeOptions['startFrom']>[] = [
  'earliest',
  'latest',
];

/**
 * Checks a subscription before a subscriber does anything (ADR 013: a mistake is refused at
 * once, the same on every backend). Every Subscriber of the library calls it first, and the
 * Router calls it in addHandler, so a value outside the port is refused alike everywhere instead
 * of being read differently by each backend (`maxInFlight: 0` delivered nothing on Kafka and in
 * memory and meant 1 on Redis; `startFrom: 'middle'` meant 'earliest').
 *
 * - `topics`: a non-empty array of non-empty strings (checkTopic);
 * - `group` and `consumer`: non-empty strings;
 * - `maxInFlight`: unset or a positive safe integer;
 * - `startFrom`: unset, 'earliest' or 'latest';
 * - `replayFor`: unset or a non-empty string.
 *
 * @param owner what the message names first, e.g. `RedisStreamsSubscriber.subscribe`
 * @throws RangeError when `topics` is empty
 * @throws InvalidTopicError naming a topic that is not a non-empty string
 * @throws TypeError naming the option and the value given otherwise
 */
export function checkSubscribeOptions(
  owner: string,
  topics: readonly string[],
  options: SubscribeOptions,
): void {
  if (!Array.isArray(topics))
    throw new TypeError(`${owner}: topics must be an array of topics, got ${shown(topics)}`);
  if (topics.length === 0)
    throw new RangeError(`${owner}: topics must name at least one topic, got []`);
  for (const topic of topics) checkTopic(owner, topic);
  checkSubscribeOptionValues(owner, options);
}

/**
 * The options part of checkSubscribeOptions (for a subscription whose topics come later, such
 * as CausewayTransportServer's).
 * @throws TypeError naming the option and the value given
 */
export function checkSubscribeOptionValues(owner: string, options: SubscribeOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${owner}: options must be an object, got ${shown(options)}`);
  checkNonEmptyString(owner, 'group', options.group);
  checkNonEmptyString(owner, 'consumer', options.consumer);
  checkMaxInFlight(owner, options.maxInFlight);
  checkStartFrom(owner, options.startFrom);
  if (options.replayFor !== undefined) checkNonEmptyString(owner, 'replayFor', options.replayFor);
}

/**
 * Checks a `maxInFlight` option: unset, or a positive safe integer (0 would deliver nothing).
 * @throws TypeError naming `option` and the value given
 */
export function checkMaxInFlight(owner: string, value: unknown, option = 'maxInFlight'): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw new TypeError(
      `${owner}: options.${option} must be a positive safe integer, got ${shown(value)}`,
    );
}

/**
 * Checks a `startFrom` option: unset, 'earliest' or 'latest'.
 * @throws TypeError naming the option and the value given
 */
export function checkStartFrom(owner: string, value: unknown): void {
  if (value === undefined) return;
  if (!(START_FROM_VALUES as readonly unknown[]).includes(value))
    throw new TypeError(
      `${owner}: options.startFrom must be 'earliest' or 'latest', got ${shown(value)}`,
    );
}

function checkNonEmptyString(owner: string, option: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0)
    throw new TypeError(
      `${owner}: options.${option} must be a non-empty string, got ${shown(value)}`,
    );
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(shown).join(', ')}]`;
  return String(value);
}
