/**
 * Read model: who is in which group (projected from TrainerJoinedGroupEvent and
 * TrainerLeftGroupEvent). A trainer's id is its owner's user id.
 *
 * Contract (proved by `describeGroupMembers` against every implementation):
 * - `apply` records a join or a leave at the trainer's stream version; a change with a version
 *   not greater than the last one applied for that trainer and group changes nothing; it returns
 *   whether it changed the model. Joining twice or leaving a group one is not in is harmless.
 *   A malformed change (`checkMembershipChange` in read-models.rules.ts) is refused with a
 *   TypeError naming the field, and changes nothing.
 * - `membersOf(groupId)` lists the current members, sorted; `groupsOf(trainerId)` the groups of
 *   a trainer, sorted.
 */
export interface GroupMembers {
  apply(change: {
    trainerId: string;
    groupId: string;
    action: 'join' | 'leave';
    version: number;
  }): Promise<boolean>;
  membersOf(groupId: string): Promise<string[]>;
  groupsOf(trainerId: string): Promise<string[]>;
}
