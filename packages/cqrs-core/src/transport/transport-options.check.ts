import { shownValue } from '../config/shown-value';
import { type MessageSerializer } from '../messages/serializer.port';
import { type Publisher } from './transport.port';

/**
 * Checks that a transport's options are an object before any of them is read (ADR 013: refuse
 * at start what can only fail later). A subscriber or publisher built with `null` (or a string)
 * failed with "Cannot read properties of null (reading 'closeTimeoutMs')", naming nothing of
 * ours, or took a string's missing properties for defaults (a review, session 43).
 * @param owner what the message names first, e.g. `InMemorySubscriber`
 * @param what what the options must hold, e.g. ` with a serializer ({ serializer })`
 * @throws TypeError naming the owner and the value given
 */
export function checkOptionsObject(owner: string, options: unknown, what = ''): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError(`${owner}: options must be an object${what}, got ${shownValue(options)}`);
}

/**
 * Checks a transport's `serializer` option: it has no default (every transport needs the
 * application's own registry), and one without serialize and deserialize failed only at the
 * first publish or delivery.
 * @throws TypeError saying what is required and what was given
 */
export function checkSerializerOption(owner: string, serializer: unknown): void {
  const usable =
    typeof serializer === 'object' &&
    serializer !== null &&
    typeof (serializer as MessageSerializer).serialize === 'function' &&
    typeof (serializer as MessageSerializer).deserialize === 'function';
  if (!usable)
    throw new TypeError(
      `${owner}: options.serializer must be a MessageSerializer (with serialize and ` +
        `deserialize, e.g. a SerializerRegistry), got ${
          typeof serializer === 'object' && serializer !== null
            ? 'an object without them'
            : shownValue(serializer)
        }`,
    );
}

/**
 * Checks a publisher given to a transport (a route's, a fallback): one that is none failed
 * only at the first publish through it, with "publisher.publish is not a function".
 * @throws TypeError naming `name` and what was given
 */
export function checkPublisherArgument(owner: string, name: string, publisher: unknown): void {
  if (
    typeof publisher !== 'object' ||
    publisher === null ||
    typeof (publisher as Publisher).publish !== 'function'
  )
    throw new TypeError(
      `${owner}: ${name} must be a Publisher (with publish), got ${
        typeof publisher === 'object' && publisher !== null
          ? 'an object without publish'
          : shownValue(publisher)
      }`,
    );
}
