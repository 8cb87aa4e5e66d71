import { SerializerRegistry } from '@causeway/cqrs-core';
import { MOVE_TRAINER_COMMAND, MoveTrainerCommand } from './trainer/move-trainer.command';
import { TRAINER_MOVED_EVENT, TrainerMovedEvent } from './trainer/trainer-moved.event';

/** Every message type of the reference system, with its schema: what crosses our brokers. */
export function contractsSerializer(
  options: { maxMessageBytes?: number } = {},
): SerializerRegistry {
  return new SerializerRegistry(options)
    .register(MOVE_TRAINER_COMMAND, MoveTrainerCommand)
    .register(TRAINER_MOVED_EVENT, TrainerMovedEvent);
}
