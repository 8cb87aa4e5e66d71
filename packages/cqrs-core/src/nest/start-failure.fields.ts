import { credentialsRemoved } from '../connections/connection-target';
import { causesInOneLine, stackWithCauses } from '../messages/error.causes';

/**
 * The `err` field of bootstrapService's fatal start-up line: the error's name and message, and
 * its stack followed by its causes' (`Caused by: …`). A start-up failure is often a wrapper —
 * `new Error('cannot connect to Kafka', { cause })` — whose cause is the one that says what went
 * wrong, and `Error.prototype.stack` leaves causes out. User info in any URL is redacted (a
 * driver's error may quote its connection string).
 */
export function startFailureFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: credentialsRemoved(String(error)) };
  const stack = stackWithCauses(error);
  return {
    type: error.name,
    message: credentialsRemoved(error.message),
    ...(stack !== undefined && { stack: credentialsRemoved(stack) }),
  };
}

/** The causes of a start-up failure on one line (`; caused by <name>: <message>`…), redacted. */
export function startFailureCauses(error: unknown): string {
  return credentialsRemoved(causesInOneLine(error));
}
