import { SerializerRegistry } from '@causeway/cqrs-core';
import {
  CHANGE_GROUP_COMMAND,
  ChangeGroupCommand,
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
  TrainerJoinedGroupEvent,
  TrainerLeftGroupEvent,
} from './groups/group-membership';
import {
  CONNECTION_CLOSED_EVENT,
  CONNECTION_ESTABLISHED_EVENT,
  ConnectionClosedEvent,
  ConnectionEstablishedEvent,
} from './presence/connection-events';
import { ORDER_PLACED, OrderPlaced } from './progress/place-order.command';
import { PROGRESS_EVENT, ProgressEvent } from './progress/progress.event';
import { MOVE_TRAINER_COMMAND, MoveTrainerCommand } from './trainer/move-trainer.command';
import { TRAINER_MOVED_EVENT, TrainerMovedEvent } from './trainer/trainer-moved.event';

/** Every message type of the reference system, with its schema: what crosses our brokers. */
export function contractsSerializer(
  options: { maxMessageBytes?: number } = {},
): SerializerRegistry {
  return new SerializerRegistry(options)
    .register(MOVE_TRAINER_COMMAND, MoveTrainerCommand)
    .register(CHANGE_GROUP_COMMAND, ChangeGroupCommand)
    .register(TRAINER_MOVED_EVENT, TrainerMovedEvent)
    .register(TRAINER_JOINED_GROUP_EVENT, TrainerJoinedGroupEvent)
    .register(TRAINER_LEFT_GROUP_EVENT, TrainerLeftGroupEvent)
    .register(CONNECTION_ESTABLISHED_EVENT, ConnectionEstablishedEvent)
    .register(CONNECTION_CLOSED_EVENT, ConnectionClosedEvent)
    .register(ORDER_PLACED, OrderPlaced)
    .register(PROGRESS_EVENT, ProgressEvent);
}
