import { CHANGE_GROUP_COMMAND, MOVE_TRAINER_COMMAND } from '@causeway/contracts';

/**
 * The reference system's command topics (TopicNamingOptions.commandTopics): a trainer's commands
 * share `commands.Trainer`, so that its move and the group join sent right after it are handled
 * in that order (per-key order holds only within a topic). Every app that sends or handles them
 * must use this mapping (CqrsCoreModuleOptions.commandTopics): command-api sends, trainer-service
 * handles.
 */
export const COMMAND_TOPICS: Readonly<Record<string, string>> = {
  [MOVE_TRAINER_COMMAND]: 'Trainer',
  [CHANGE_GROUP_COMMAND]: 'Trainer',
};
