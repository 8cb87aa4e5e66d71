import { shownValue } from '../config/shown-value';
import { checkCounts } from '../transport/count-options.check';
import { checkTimings } from '../transport/timing-options.check';

/** The required options of an EventForwarder, what each must be, and the methods it calls. */
const REQUIRED: readonly { name: string; what: string; methods: readonly string[] }[] = [
  { name: 'store', what: 'an event store (with readAllPage)', methods: ['readAllPage'] },
  { name: 'publisher', what: 'a publisher (with publish)', methods: ['publish'] },
  {
    name: 'checkpoints',
    what: 'a checkpoint store (with load and save)',
    methods: ['load', 'save'],
  },
];

/**
 * Refuses, when the forwarder is built, options without what every round needs. Unchecked, a
 * forwarder missing `store`, `checkpoints` or `topicOf` (a misspelt key, a config object without
 * one) started, and failed every round for ever with a warning such as "this.options.topicOf is
 * not a function", publishing nothing (a review, session 42). Its sizes and timings are checked
 * too: a NaN `pollIntervalMs` (a `Number(env)` of nothing) made the wait between rounds 1 ms,
 * so a caught-up forwarder read its store back to back (a CPU spin, on FerretDB a scan each
 * time); a NaN `batchSize` read nothing and a NaN `ledgerReadIntervalMs` never read the store.
 * @throws TypeError naming the option, what it must be and what was given
 */
export function checkForwarderOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`EventForwarder: options must be an object, got ${shownValue(options)}`);
  const given = options as Record<string, unknown>;
  for (const { name, what, methods } of REQUIRED) {
    const value = given[name];
    const missing =
      typeof value === 'object' && value !== null
        ? methods.find((m) => typeof (value as Record<string, unknown>)[m] !== 'function')
        : undefined;
    if (typeof value === 'object' && value !== null && missing === undefined) continue;
    const got = missing === undefined ? shownValue(value) : `an object without ${missing}`;
    throw new TypeError(`EventForwarder: options.${name} must be ${what}, got ${got}`);
  }
  if (typeof given.topicOf !== 'function')
    throw new TypeError(
      'EventForwarder: options.topicOf must be a function (event) => topic, got ' +
        (typeof given.topicOf === 'object' && given.topicOf !== null
          ? 'an object'
          : shownValue(given.topicOf)),
    );
  // 0 is meaningful for ledgerReadIntervalMs alone (read the store every round); a poll
  // interval of 0 would be the back-to-back rounds the wait is there to prevent.
  checkCounts('EventForwarder', given, ['batchSize']);
  checkTimings('EventForwarder', given, {
    pollIntervalMs: { timer: true },
    ledgerReadIntervalMs: { zero: true },
  });
}
