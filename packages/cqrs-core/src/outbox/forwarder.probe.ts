import { shownValue } from '../config/shown-value';
import { type HealthProbe } from '../health/health-probe.port';
import { type EventForwarder } from './event.forwarder';

/** How long the rounds may fail in a row before forwarderProbe fails, unless told otherwise. */
export const FORWARDER_FAILING_FOR_MS = 60_000;

export interface ForwarderProbeOptions {
  /**
   * The probe fails once the forwarder's rounds have failed in a row for this long
   * (EventForwarder.failing): shorter spells (a broker restarting) are retried by the forwarder
   * and only reported to its `onError`. Default FORWARDER_FAILING_FOR_MS.
   */
  failingForMs?: number;
}

/**
 * A health probe (default name `outbox`) that fails while the forwarder is stopped at an event
 * it can never publish (EventForwarder.blocked: no `deadLetters`) or its store cannot read
 * (UnreadableEventError), naming the event, the reason and since when; and while its rounds
 * have failed in a row for `failingForMs` or longer (EventForwarder.failing), with the latest
 * error: nothing reaches the bus from the rounds then, though every server may answer its own
 * check. Not critical: readiness is about taking traffic, and the instance still does; it
 * shows in `/health` (status `degraded`), next to the `causeway_forwarder_blocked` gauge.
 */
export function forwarderProbe(
  forwarder: Pick<EventForwarder, 'blocked' | 'failing'>,
  name = 'outbox',
  options: ForwarderProbeOptions = {},
): HealthProbe & { critical: false } {
  const failingForMs = options.failingForMs ?? FORWARDER_FAILING_FOR_MS;
  // typeof first: a string from the environment passed `>= 0` ('5' >= 0 is true), and an empty
  // one (a variable left unset) was then compared as 0: the probe failed at the first failed round.
  if (typeof failingForMs !== 'number' || !(failingForMs >= 0))
    throw new RangeError(
      `forwarderProbe: options.failingForMs must be a number of milliseconds >= 0, got ${shownValue(failingForMs)}`,
    );
  return {
    name,
    critical: false,
    check: async () => {
      const block = forwarder.blocked;
      if (block)
        throw new Error(
          `the outbox is blocked since ${block.since.toISOString()}: ${block.error.message}`,
        );
      const failing = forwarder.failing;
      if (failing && Date.now() - failing.since.getTime() >= failingForMs) {
        const { error } = failing;
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw new Error(
          `the outbox's rounds have failed since ${failing.since.toISOString()} ` +
            `(${failing.rounds} in a row), nothing is forwarded: ${reason}`,
        );
      }
    },
  };
}
