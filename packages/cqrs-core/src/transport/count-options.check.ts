import { shownValue } from '../config/shown-value';

/**
 * Checks a transport's size and count settings (a byte limit, a length cap) before it does
 * anything, as checkTimings does for its timing settings (ADR 013: refuse at start what can
 * only fail later). Each given value must be a positive integer. Unchecked, NaN (a
 * `Number(env)` of nothing) compared false with every size and length, so it silently turned
 * the limit off: no message was too large, no topic was ever trimmed.
 * @param owner what the message names first, e.g. `InMemoryBroker`
 * @throws TypeError naming the owner, the setting and the value given
 */
export function checkCounts(
  owner: string,
  settings: Readonly<Record<string, unknown>>,
  names: readonly string[],
): void {
  for (const name of names) {
    const value = settings[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
      throw new TypeError(
        `${owner}: options.${name} must be a positive integer, got ${shownValue(value)}`,
      );
  }
}
