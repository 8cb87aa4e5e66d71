import { shownValue } from '../config/shown-value';
import { MAX_TIMER_MS } from '../config/settings.schema';

/** What one timing setting of a transport may be. */
export interface TimingRule {
  /** 0 is a meaningful value (no delay, no wait); otherwise it must be above 0. */
  readonly zero?: boolean;
  /** Waited for with a timer: at most MAX_TIMER_MS (a longer delay fires after 1 ms). */
  readonly timer?: boolean;
  /** Infinity means "never" (e.g. keep for ever). */
  readonly infinite?: boolean;
  /** Sent to Redis (a PX, a min-idle-time, a BLOCK), which refuses a fraction of a millisecond. */
  readonly whole?: boolean;
}

/**
 * Checks a transport's timing settings before it does anything (ADR 013: refuse at start what
 * can only fail later). Each given value must be a number of milliseconds as its rule says.
 * Unchecked, a `Number(env)` of nothing (NaN) or a string read from the environment made a
 * failed message's redelivery time NaN or text — never reached, so the message was never
 * delivered again and its key stayed blocked for ever — and a NaN timer fires after 1 ms (a
 * heartbeat spinning, a close that gave up on its handlers at once).
 * @param owner what the message names first, e.g. `RedisStreamsSubscriber`
 * @throws TypeError naming the owner, the setting and the value given
 */
export function checkTimings(
  owner: string,
  settings: Readonly<Record<string, unknown>>,
  rules: Readonly<Record<string, TimingRule>>,
): void {
  for (const [name, rule] of Object.entries(rules)) {
    const value = settings[name];
    if (value === undefined) continue;
    const number = typeof value === 'number' && !Number.isNaN(value);
    const fits =
      number &&
      (rule.zero ? value >= 0 : value > 0) &&
      (!rule.whole || value === Infinity || Number.isInteger(value)) &&
      (value === Infinity ? rule.infinite === true : !rule.timer || value <= MAX_TIMER_MS);
    if (!fits)
      throw new TypeError(
        `${owner}: options.${name} must be ${ruleText(rule)}, got ${shownValue(value)}`,
      );
  }
}

function ruleText(rule: TimingRule): string {
  const from = `${rule.zero ? 'a non-negative' : 'a positive'}${rule.whole ? ' whole' : ''} number of milliseconds`;
  const upTo = rule.timer ? ` up to ${MAX_TIMER_MS}` : '';
  return `${from}${upTo}${rule.infinite ? ' (or Infinity)' : ''}`;
}
