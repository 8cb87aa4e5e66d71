import {
  type GroupMembers,
  type NotificationLog,
  type TrainerPosition,
  type TrainerPositions,
  withLoggedMoves,
} from '@causeway/platform';

/**
 * The positions a user may see (ADR 007): trainers in no group, trainers sharing a group with
 * the user or one of their trainers, and their own trainers; each as the newest of its read
 * model row and its last move in the log (withLoggedMoves: the read model lags the log).
 */
export async function visiblePositions(
  caller: { userId: string; trainerIds: readonly string[] },
  positions: TrainerPositions,
  groups: GroupMembers,
  log: NotificationLog,
): Promise<TrainerPosition[]> {
  const own = new Set([caller.userId, ...caller.trainerIds]);
  const myGroups = new Set((await Promise.all([...own].map((id) => groups.groupsOf(id)))).flat());
  const allowed = new Set(own);
  for (const members of await Promise.all([...myGroups].map((id) => groups.membersOf(id))))
    for (const member of members) allowed.add(member);
  const rows = await positions.list();
  const visible: TrainerPosition[] = [];
  // Bounded concurrency: one groupsOf per trainer not already known to be visible.
  for (let i = 0; i < rows.length; i += 50) {
    const chunk = rows.slice(i, i + 50);
    const inGroups = await Promise.all(
      chunk.map((row) =>
        allowed.has(row.trainerId)
          ? Promise.resolve(true)
          : groups.groupsOf(row.trainerId).then((g) => g.length > 0),
      ),
    );
    chunk.forEach((row, index) => {
      if (allowed.has(row.trainerId) || !inGroups[index]) visible.push(row);
    });
  }
  return withLoggedMoves(visible, log);
}
