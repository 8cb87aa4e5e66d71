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
@EventHandler(PROJECTED_EVENTS, { name: 'read-models' })
export class TrainerEventsHandler {
  constructor(@Inject(ProjectionRunner) private readonly runner: ProjectionRunner) {}

  handle(event: Envelope): Promise<void> {
    return this.runner.handle(event);
  }
}
