/**
 * How many errors of a `cause` chain are read. kafkajs wraps a broker's error a few deep at most
 * (KafkaJSNumberOfRetriesExceeded around KafkaJSProtocolError, inside our own error): a longer
 * chain is someone else's, and reading it whole could take for ever.
 */
const MAX_CAUSES = 5;

/**
 * `error` and the errors along its `cause`s, outermost first: at most MAX_CAUSES of them, each
 * once (a chain that loops back ends where it would repeat). Empty for undefined or null.
 */
export function errorCauses(error: unknown): unknown[] {
  const causes: unknown[] = [];
  for (let cause = error; cause && causes.length < MAX_CAUSES;) {
    if (causes.includes(cause)) break;
    causes.push(cause);
    cause = (cause as { cause?: unknown }).cause;
  }
  return causes;
}

/**
 * Whether a kafkajs error of `type` (its `type` field, e.g. 'UNKNOWN_TOPIC_OR_PARTITION') is
 * along `error`'s causes: kafkajs often wraps the broker's answer (KafkaJSNumberOfRetriesExceeded).
 */
export function hasErrorType(error: unknown, type: string): boolean {
  return errorCauses(error).some((cause) => (cause as { type?: unknown }).type === type);
}
