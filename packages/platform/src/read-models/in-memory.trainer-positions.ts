import { type TrainerPosition, type TrainerPositions } from './trainer-positions.port';
import { checkPositionRow } from './read-models.rules';

/** TrainerPositions in process memory (embedded mode, tests). Passes `describeTrainerPositions`. */
export class InMemoryTrainerPositions implements TrainerPositions {
  private readonly rows = new Map<string, TrainerPosition>();

  async apply(position: TrainerPosition): Promise<boolean> {
    checkPositionRow(position);
    const stored = this.rows.get(position.trainerId);
    if (stored && stored.version >= position.version) return false;
    this.rows.set(position.trainerId, copy(position));
    return true;
  }

  async get(trainerId: string): Promise<TrainerPosition | undefined> {
    const row = this.rows.get(trainerId);
    return row && copy(row);
  }

  async list(trainerIds?: readonly string[]): Promise<TrainerPosition[]> {
    const rows = trainerIds
      ? [...new Set(trainerIds)].flatMap((id) => {
          const row = this.rows.get(id);
          return row ? [row] : [];
        })
      : [...this.rows.values()];
    return rows.map(copy).sort(byTrainerId);
  }

  async recent(since: number): Promise<TrainerPosition[]> {
    return [...this.rows.values()]
      .filter((row) => row.updatedAt >= since)
      .map(copy)
      .sort(byTrainerId);
  }
}

export function byTrainerId(a: { trainerId: string }, b: { trainerId: string }): number {
  return a.trainerId < b.trainerId ? -1 : a.trainerId > b.trainerId ? 1 : 0;
}

/** A row no caller shares state with (its `groups` array included). */
function copy(row: TrainerPosition): TrainerPosition {
  return row.groups ? { ...row, groups: [...row.groups] } : { ...row };
}
