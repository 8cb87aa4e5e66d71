import {
  type GroupMembers,
  type NotificationLog,
  type TrainerPosition,
  type TrainerPositions,
  withLoggedMoves,
} from '@causeway/platform';

/** A position as clients get it: the row without its `groups` (they name other users' groups). */
export type VisiblePosition = Omit<TrainerPosition, 'groups'>;

/**
 * The positions a user may see (ADR 007) among the trainers updated at or after `since` (epoch
 * ms, the server's clock): their own trainers, trainers sharing a group with the user or one of
 * their trainers, and trainers in no group; each as the newest of its read model row and its
 * last move in the log (withLoggedMoves: the read model lags the log), left out when that move
 * was not addressed to the caller (while lost read models are rebuilt, a row may be a public
 * move older than the trainer's joins).
 *
 * Fails safe: a trainer is in no group only when neither GroupMembers nor its row (the groups of
 * its last projected move) names one. While the membership read model is lost (Redis emptied,
 * until projection-worker rebuilt it) a grouped trainer is hidden from everyone but its own user,
 * never shown to everyone. A trainer's groups are GroupMembers' when it names any (current: the
 * row's may be stale after a leave), the row's otherwise; the caller's groups are GroupMembers'.
 */
export async function visiblePositions(
  caller: { userId: string; trainerIds: readonly string[] },
  positions: TrainerPositions,
  groups: GroupMembers,
  log: NotificationLog,
  since: number,
): Promise<VisiblePosition[]> {
  const own = new Set([caller.userId, ...caller.trainerIds]);
  const myGroups = new Set((await Promise.all([...own].map((id) => groups.groupsOf(id)))).flat());
  const allowed = new Set(own);
  for (const members of await Promise.all([...myGroups].map((id) => groups.membersOf(id))))
    for (const member of members) allowed.add(member);
  const rows = await positions.recent(since);
  const visible: VisiblePosition[] = [];
  // Bounded concurrency: one groupsOf per trainer not already known to be visible.
  for (let i = 0; i < rows.length; i += 50) {
    const chunk = rows.slice(i, i + 50);
    const memberships = await Promise.all(
      chunk.map((row) =>
        allowed.has(row.trainerId) ? Promise.resolve([]) : groups.groupsOf(row.trainerId),
      ),
    );
    chunk.forEach((row, index) => {
      const { groups: rowGroups = [], ...position } = row;
      const trainerGroups = memberships[index]!.length > 0 ? memberships[index]! : rowGroups;
      if (
        allowed.has(row.trainerId) ||
        trainerGroups.length === 0 ||
        trainerGroups.some((group) => myGroups.has(group))
      )
        visible.push(position);
    });
  }
  return withLoggedMoves(visible, log, caller);
}
