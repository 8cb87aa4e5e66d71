import { z } from 'zod';
import { TrainerId } from '../trainer/move-trainer.command';

const GroupId = z
  .string()
  .min(1, 'must not be empty')
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-"');

/** A trainer joins or leaves a group (a party or a room). Members see each other's moves. */
export const ChangeGroupCommand = z.object({
  trainerId: TrainerId,
  groupId: GroupId,
  action: z.enum(['join', 'leave'], { message: 'must be "join" or "leave"' }),
  timestamp: z.number().int().nonnegative(),
});
export type ChangeGroupCommand = z.infer<typeof ChangeGroupCommand>;
export const CHANGE_GROUP_COMMAND = 'ChangeGroupCommand';

export const TrainerJoinedGroupEvent = z.object({
  trainerId: z.string().min(1),
  groupId: GroupId,
  timestamp: z.number().int().nonnegative(),
});
export type TrainerJoinedGroupEvent = z.infer<typeof TrainerJoinedGroupEvent>;
export const TRAINER_JOINED_GROUP_EVENT = 'TrainerJoinedGroupEvent';

export const TrainerLeftGroupEvent = TrainerJoinedGroupEvent;
export type TrainerLeftGroupEvent = TrainerJoinedGroupEvent;
export const TRAINER_LEFT_GROUP_EVENT = 'TrainerLeftGroupEvent';
