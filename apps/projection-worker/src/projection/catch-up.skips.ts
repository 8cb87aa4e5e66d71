import { registeredCounter } from '@causeway/cqrs-core';
import { type Registry } from 'prom-client';
import { projectionLogger } from './projection.lifecycle';
import { type SkippedEvent } from './read-models.catch-up';

export const SKIPPED_EVENTS = 'causeway_projection_skipped_events_total';

/**
 * What the catch-up does with an event it gave up on (ReadModelsCatchUp.onSkipped): an error
 * line naming it, and `causeway_projection_skipped_events_total` in `registry` (an alert: the
 * read models lack an event until someone looks).
 */
export function reportSkips(
  registry: Registry | undefined,
  maxAttempts: number,
): (skipped: SkippedEvent, error: unknown) => void {
  const skips =
    registry &&
    registeredCounter(registry, {
      name: SKIPPED_EVENTS,
      help: 'Events of the event store the read models catch-up could not decode and gave up on',
    });
  return ({ streamId, version, position }, error) => {
    skips?.inc();
    projectionLogger.error(
      `gave up on the event at position ${position} (stream ${streamId}, version ${version}) ` +
        `after ${maxAttempts} failed catch-ups: ${(error as Error)?.message}; the read models lack it`,
    );
  };
}
