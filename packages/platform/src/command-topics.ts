import { type Provider } from '@nestjs/common';
import { CHANGE_GROUP_COMMAND, MOVE_TRAINER_COMMAND } from '@causeway/contracts';
import { CommandBus } from '@causeway/cqrs-core';

/**
 * The reference system's command topics (TopicNamingOptions.commandTopics): a trainer's commands
 * share `commands.Trainer`, so that its move and the group join sent right after it are handled
 * in that order (per-key order holds only within a topic). Every app that sends or handles them
 * must use this mapping: command-api sends, trainer-service handles.
 */
export const COMMAND_TOPICS: Readonly<Record<string, string>> = {
  [MOVE_TRAINER_COMMAND]: 'Trainer',
  [CHANGE_GROUP_COMMAND]: 'Trainer',
};

const COMMAND_TOPICS_APPLIED = Symbol('causeway:command-topics');

/**
 * Applies COMMAND_TOPICS to the global CommandBus (of CqrsCoreModule) while the app's providers
 * are created, before any handler registers (onModuleInit) or anything is sent.
 */
export const commandTopicsProvider: Provider = {
  provide: COMMAND_TOPICS_APPLIED,
  inject: [CommandBus],
  useFactory: (commands: CommandBus) => commands.useCommandTopics(COMMAND_TOPICS) && true,
};
