import { Inject, Injectable } from '@nestjs/common';
import { type Envelope } from '@causeway/cqrs-core';
import { EventHandler } from '@causeway/cqrs-core/nest';
import { ProjectionRunner } from './projection.runner';
import { PROJECTED_EVENTS } from './read-models.projector';

/**
 * The live side of the projection: one competing group for the three trainer event types.
 * Hazard: the name is the consumer group; renaming it re-consumes every event on the bus.
 */
@Injectable()
// Idempotent by itself: read models are guarded by version and notifications are appended by
// notificationId, so the Redis deduplicator's claim would only add two round trips per event.
@EventHandler(PROJECTED_EVENTS, { name: 'read-models', idempotent: true })
export class TrainerEventsHandler {
  constructor(@Inject(ProjectionRunner) private readonly runner: ProjectionRunner) {}

  handle(event: Envelope): Promise<void> {
    return this.runner.handle(event);
  }
}
