import { type HealthProbe } from '../health/health-probe.port';
import { type EventForwarder } from './event.forwarder';

/**
 * A health probe (default name `outbox`) that fails while the forwarder is stopped at an event
 * it can never publish (EventForwarder.blocked: no `deadLetters`) or its store cannot read
 * (UnreadableEventError), naming the event, the reason and since when. Not critical: readiness is about taking traffic, and the instance still does;
 * it shows in `/health` (status `degraded`), next to the `causeway_forwarder_blocked` gauge.
 */
export function forwarderProbe(
  forwarder: Pick<EventForwarder, 'blocked'>,
  name = 'outbox',
): HealthProbe & { critical: false } {
  return {
    name,
    critical: false,
    check: async () => {
      const block = forwarder.blocked;
      if (block)
        throw new Error(
          `the outbox is blocked since ${block.since.toISOString()}: ${block.error.message}`,
        );
    },
  };
}
